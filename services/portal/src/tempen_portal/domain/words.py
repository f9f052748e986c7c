"""What the portal says, in Swedish (the default) and English. One dict per language with the same keys
(a test checks they match), and the number format of each: "61,5" in Swedish. Dates are ISO 8601
(2026-03-02), which is how Swedish public administration writes them anyway."""

from __future__ import annotations

from typing import Literal

Language = Literal["sv", "en"]
LANGUAGES: tuple[Language, ...] = ("sv", "en")

WORDS: dict[Language, dict[str, str]] = {
    "sv": {
        "site": "tempen",
        "skip": "Hoppa till innehållet",
        "switch_language": "In English",
        "sign_out": "Logga ut",
        "signed_in_as": "Inloggad som",
        "home_title": "tempen: uppföljning av medarbetarenkäter",
        "home_text": "Öppna länken i e-postmeddelandet om en signal för att se den här. Länken är personlig.",
        "alert": "Signal",
        "in": "i",
        "unit": "Enhet",
        "dimension": "Område",
        "state": "Läge",
        "level": "Nivå",
        "opened": "Öppnad",
        "acknowledged_at": "Kvitterad",
        "follow_up": "Uppföljning",
        "what_we_found": "Vad vi såg",
        "period": "Period",
        "index": "Index",
        "threshold": "Gräns",
        "threshold_line": "Gränsen för en signal",
        "trend": "Utvecklingen",
        "trend_desc": "Index per period för {dimension} i {unit}, 0 till 100. Senast {latest}.",
        "no_figures": "Inga publicerade värden ännu.",
        "show_table": "Visa som tabell",
        "too_few": "för få svar",
        "hidden_note": "Perioder med för få svar visas inte, så att ingen enskild går att känna igen.",
        "who_was_told": "Vilka som fått veta",
        "recipient": "Mottagare",
        "role": "Roll",
        "sent": "Skickat",
        "not_sent": "inte skickat än",
        "timeline": "Händelser",
        "when": "När",
        "what": "Vad",
        "by": "Av",
        "reason": "Varför",
        "acknowledge": "Kvittera",
        "acknowledge_intro": (
            "Kvittera när ni har pratat om resultatet. Skriv kort vad ni ska göra och när ni följer upp."
        ),
        "action_plan": "Handlingsplan",
        "action_plan_hint": "Vad ska göras, och av vem? Minst 3 tecken.",
        "follow_up_date": "Datum för uppföljning",
        "follow_up_hint": "Frivilligt. Format ÅÅÅÅ-MM-DD.",
        "acknowledged_done": "Tack! Signalen är kvitterad och handlingsplanen sparad.",
        "not_active": "Signalen är inte längre aktiv, så den kan inte kvitteras.",
        "errors_title": "Något behöver rättas",
        "link_expired": (
            "Länken har gått ut. Be HR om en ny, eller öppna länken i ett senare meddelande om samma signal."
        ),
        "link_invalid": "Länken fungerar inte. Kontrollera att hela länken kom med från e-postmeddelandet.",
        "not_allowed": "Du har inte behörighet att se den här sidan.",
        "not_found": "Sidan finns inte.",
        "sign_in_needed": "Öppna länken i ditt e-postmeddelande för att logga in.",
        "unavailable": "Tjänsten svarar inte just nu. Försök igen om en stund.",
        "bad_form": "Formuläret gick inte att läsa. Ladda om sidan och försök igen.",
        "too_many": "För många försök. Vänta en minut och försök igen.",
        "state_open": "Öppen",
        "state_acknowledged": "Kvitterad",
        "state_escalated": "Eskalerad",
        "state_resolved": "Avslutad",
        "role_next_level": "Nästa chefsnivå",
        "role_unit_manager": "Enhetens chef",
        "role_hr": "HR",
        "role_previous_level": "Tidigare chefsnivå, för kännedom",
        "role_hr_summary": "HR, sammanfattning av importerade resultat",
        "role_plan_reminder": "Påminnelse om handlingsplanen",
        "role_webhook": "Kanal",
        "rule_sustained_challenge": "Ihållande lågt resultat",
        "rule_no_improvement": "Ingen förbättring",
        "rule_unacknowledged": "Inte kvitterad i tid",
        "rule_recovered": "Resultatet har återhämtat sig",
        "rule_acknowledged": "Kvitterad",
        "rule_resolved_by_hand": "Avslutad för hand",
        "system": "tempen",
        # HME report (hme branch): /t/{tenant}/report/hme
        "hme_nav": "HME-rapport",
        "hme_title": "HME-rapport",
        "hme_intro": (
            "Hållbart medarbetarengagemang (HME) för {tenant} och varje förvaltning per mätomgång: totalindex och"
            " de tre delindexen motivation, ledarskap och styrning, från 0 till 100, med antal svarande och"
            " svarsfrekvens."
        ),
        "hme_privacy": (
            "En grupp med färre än {minimum} svarande visas inte, och inte heller en grupp vars resultat skulle gå"
            " att räkna fram ur de andra. Där står det ”för få svar”."
        ),
        "hme_csv": "Ladda ner som CSV för Kolada",
        "hme_rounds": "Antal mätomgångar",
        "hme_show": "Visa",
        "hme_empty": "Det finns inga HME-resultat att visa här ännu.",
        "hme_none_of_yours": (
            "HME-rapporten visar kommunen och förvaltningarna, och dina enheter ligger längre ner i"
            " organisationen. Be HR om rapporten för hela kommunen."
        ),
        "hme_instrument": "Enkät",
        "hme_cadence_annual": "årlig",
        "hme_cadence_quarterly": "kvartalsvis",
        "hme_cadence_monthly": "månadsvis",
        "hme_cadence_weekly": "veckovis",
        "hme_round": "Mätomgång",
        "hme_respondents": "Svarande",
        "hme_response_rate": "Svarsfrekvens",
        "hme_level_municipality": "kommunen",
        "hme_level_forvaltning": "förvaltning",
        "hme_unknown": "okänd",
        "hme_notes": (
            "Svarsfrekvensen räknas mot antalet anställda i organisationsfilen och visas bara där det är känt för"
            " varje enhet i gruppen. Index visas med en decimal."
        ),
        "hme_bad_rounds": "Ange antalet mätomgångar som ett heltal från 1 till 20.",
        "hme_not_configured": (
            "Den här organisationen mäter inte HME i tempen. Be den som förvaltar tempen att lägga till"
            " HME-enkäten (config/instruments/hme.yaml) bland organisationens enkäter."
        ),
        "hme_no_units": (
            "HME-rapporten visar kommunen och förvaltningarna, och du är inte chef för någon enhet här."
            " Be HR om rapporten."
        ),
        # Signing in (oidc branch): the identity provider, and operator-issued sign-in links.
        "sign_in_title": "Logga in",
        "sign_in_with": "Logga in med kommunens inloggning: {tenant}",
        "oidc_not_configured": (
            "Den här organisationen loggar inte in via en identitetsleverantör. Be HR om en personlig inloggningslänk."
        ),
        "oidc_denied": (
            "Inloggningen avbröts eller nekades hos identitetsleverantören. Försök igen från startsidan, eller "
            "kontakta IT om det fortsätter."
        ),
        "oidc_state": (
            "Inloggningen kunde inte slutföras: svaret hörde inte till den här webbläsarens inloggning. Börja om "
            "från startsidan."
        ),
        "oidc_failed": (
            "Inloggningen kunde inte slutföras: identitetsleverantörens svar gick inte att lita på. Börja om från"
            " startsidan, och kontakta IT om det fortsätter."
        ),
        "oidc_no_email": (
            "Identitetsleverantören skickade ingen e-postadress för dig, så tempen vet inte vem du är. Be IT "
            "kontrollera inställningarna (docs/tenants.md)."
        ),
        "oidc_no_role": (
            "Du är inloggad, men du är varken HR eller chef för någon enhet i organisationen. Be HR lägga in dig "
            "som chef i organisationsträdet eller ge dig HR-rollen."
        ),
        "sign_in_link_invalid": (
            "Inloggningslänken fungerar inte, eller gäller inte längre för dig. Be den som skickade den om en ny."
        ),
        "sign_in_link_expired": "Inloggningslänken har gått ut. Be den som skickade den om en ny.",
        "oidc_too_many_units": (
            "Dina grupper ger dig för många enheter för att tempen ska kunna hålla reda på dem. Be IT koppla "
            "grupperna till enheter högre upp i organisationen (docs/tenants.md)."
        ),
        # Revoked personal links (deploy branch)
        "link_revoked": (
            "Länken är återkallad och fungerar inte längre. Om du behöver se signalen, be HR eller den som "
            "administrerar tempen om ett nytt meddelande."
        ),
        "session_link_revoked": (
            "Du har loggats ut: länken du loggade in med har återkallats. Be HR eller den som administrerar "
            "tempen om ett nytt meddelande om du behöver komma åt signalen."
        ),
        # Action plans (entrypoints/plans.py, templates/plan.html)
        "plan_title": "Handlingsplan",
        "plan_none": "Ingen handlingsplan är skriven ännu.",
        "plan_what": "Vad som ska göras",
        "plan_owner": "Ansvarig",
        "plan_due": "Klart senast",
        "plan_no_due": "inget datum satt",
        "plan_status": "Läge",
        "plan_status_planned": "Planerad",
        "plan_status_in_progress": "Pågår",
        "plan_status_done": "Klar",
        "plan_written": "Senast ändrad {when} av {who} (version {revision}).",
        "plan_history": "Planens historik, senaste först",
        "plan_revision": "Version",
        "plan_changed": "Ändrad av",
        "plan_comments": "Uppföljning",
        "plan_no_comments": "Inga kommentarer ännu.",
        "plan_write": "Skriv handlingsplanen",
        "plan_revise": "Ändra handlingsplanen",
        "plan_what_hint": "Vad ska göras? 3 till 5 000 tecken.",
        "plan_owner_hint": "Vem ansvarar? Namn eller e-postadress.",
        "plan_due_hint": "Format ÅÅÅÅ-MM-DD.",
        "plan_save": "Spara planen",
        "plan_comment_add": "Lägg till en kommentar",
        "plan_comment": "Kommentar",
        "plan_comment_hint": "Hur går det? 2 till 2 000 tecken.",
        "plan_comment_save": "Spara kommentaren",
        "plan_saved": "Handlingsplanen är sparad.",
        "comment_saved": "Kommentaren är sparad.",
        "plan_closed": (
            "Signalen avslutades för mer än ett halvår sedan, så planen går inte längre att ändra. "
            "Om problemet är tillbaka öppnas en ny signal när resultaten visar det."
        ),
    },
    "en": {
        "site": "tempen",
        "skip": "Skip to content",
        "switch_language": "På svenska",
        "sign_out": "Sign out",
        "signed_in_as": "Signed in as",
        "home_title": "tempen: following up employee surveys",
        "home_text": "Open the link in the e-mail about an alert to see it here. The link is personal.",
        "alert": "Alert",
        "in": "in",
        "unit": "Unit",
        "dimension": "Area",
        "state": "State",
        "level": "Level",
        "opened": "Opened",
        "acknowledged_at": "Acknowledged",
        "follow_up": "Follow-up",
        "what_we_found": "What we found",
        "period": "Period",
        "index": "Index",
        "threshold": "Threshold",
        "threshold_line": "The alert threshold",
        "trend": "The trend",
        "trend_desc": "Index per period for {dimension} in {unit}, 0 to 100. Latest {latest}.",
        "no_figures": "No published figures yet.",
        "show_table": "Show as a table",
        "too_few": "too few answers",
        "hidden_note": "Periods with too few answers are not shown, so that nobody can be recognised.",
        "who_was_told": "Who was told",
        "recipient": "Recipient",
        "role": "Role",
        "sent": "Sent",
        "not_sent": "not sent yet",
        "timeline": "Timeline",
        "when": "When",
        "what": "What",
        "by": "By",
        "reason": "Why",
        "acknowledge": "Acknowledge",
        "acknowledge_intro": (
            "Acknowledge once you have talked about the result. Say briefly what you will do and when you follow up."
        ),
        "action_plan": "Action plan",
        "action_plan_hint": "What will be done, and by whom? At least 3 characters.",
        "follow_up_date": "Follow-up date",
        "follow_up_hint": "Optional. Format YYYY-MM-DD.",
        "acknowledged_done": "Thank you! The alert is acknowledged and the action plan saved.",
        "not_active": "The alert is no longer active, so it cannot be acknowledged.",
        "errors_title": "Something needs correcting",
        "link_expired": (
            "The link has expired. Ask HR for a new one, or open the link in a later e-mail about the same alert."
        ),
        "link_invalid": "The link does not work. Check that the whole link was copied from the e-mail.",
        "not_allowed": "You may not see this page.",
        "not_found": "The page does not exist.",
        "sign_in_needed": "Open the link in your e-mail to sign in.",
        "unavailable": "The service is not answering right now. Please try again shortly.",
        "bad_form": "The form could not be read. Reload the page and try again.",
        "too_many": "Too many attempts. Wait a minute and try again.",
        "state_open": "Open",
        "state_acknowledged": "Acknowledged",
        "state_escalated": "Escalated",
        "state_resolved": "Resolved",
        "role_next_level": "Next management level",
        "role_unit_manager": "The unit's manager",
        "role_hr": "HR",
        "role_previous_level": "Earlier management level, for information",
        "role_hr_summary": "HR, summary of imported results",
        "role_plan_reminder": "Reminder about the action plan",
        "role_webhook": "Channel",
        "rule_sustained_challenge": "Sustained low result",
        "rule_no_improvement": "No improvement",
        "rule_unacknowledged": "Not acknowledged in time",
        "rule_recovered": "The result has recovered",
        "rule_acknowledged": "Acknowledged",
        "rule_resolved_by_hand": "Resolved by hand",
        "system": "tempen",
        # HME report (hme branch): /t/{tenant}/report/hme
        "hme_nav": "HME report",
        "hme_title": "HME report",
        "hme_intro": (
            "Sustainable employee engagement (HME) for {tenant} and each förvaltning per survey round: the total"
            " index and the three sub-indices motivation, leadership and governance, from 0 to 100, with the"
            " number of respondents and the response rate."
        ),
        "hme_privacy": (
            "A group with fewer than {minimum} respondents is not shown, nor is a group whose result could be"
            " worked out from the others. It says “too few answers” instead."
        ),
        "hme_csv": "Download as CSV for Kolada",
        "hme_rounds": "Number of survey rounds",
        "hme_show": "Show",
        "hme_empty": "There are no HME results to show here yet.",
        "hme_none_of_yours": (
            "The HME report shows the municipality and its förvaltningar, and your units are further down the"
            " organisation. Ask HR for the municipality's report."
        ),
        "hme_instrument": "Survey",
        "hme_cadence_annual": "annual",
        "hme_cadence_quarterly": "quarterly",
        "hme_cadence_monthly": "monthly",
        "hme_cadence_weekly": "weekly",
        "hme_round": "Survey round",
        "hme_respondents": "Respondents",
        "hme_response_rate": "Response rate",
        "hme_level_municipality": "the municipality",
        "hme_level_forvaltning": "förvaltning",
        "hme_unknown": "unknown",
        "hme_notes": (
            "The response rate is counted against the headcounts in the org file, and shown only where every"
            " unit of the group has one. Indices are shown with one decimal."
        ),
        "hme_bad_rounds": "Give the number of survey rounds as a whole number from 1 to 20.",
        "hme_not_configured": (
            "This organisation does not measure HME in tempen. Ask whoever runs tempen to add the HME survey"
            " (config/instruments/hme.yaml) to the organisation's instruments."
        ),
        "hme_no_units": (
            "The HME report shows the municipality and its förvaltningar, and you head no unit here. Ask HR for"
            " the report."
        ),
        # Signing in (oidc branch): the identity provider, and operator-issued sign-in links.
        "sign_in_title": "Sign in",
        "sign_in_with": "Sign in with your organisation's login: {tenant}",
        "oidc_not_configured": (
            "This organisation does not sign in through an identity provider. Ask HR for a personal sign-in link."
        ),
        "oidc_denied": (
            "Signing in was cancelled or refused by the identity provider. Try again from the start page, or "
            "contact IT if it goes on."
        ),
        "oidc_state": (
            "Signing in could not be finished: the answer did not belong to this browser's sign-in. Start again "
            "from the start page."
        ),
        "oidc_failed": (
            "Signing in could not be finished: the identity provider's answer could not be trusted. Start again "
            "from the start page, and contact IT if it goes on."
        ),
        "oidc_no_email": (
            "The identity provider sent no e-mail address for you, so tempen cannot tell who you are. Ask IT to "
            "check the settings (docs/tenants.md)."
        ),
        "oidc_no_role": (
            "You are signed in, but you are neither HR nor the manager of any unit in the organisation. Ask HR to"
            " add you as a manager in the org tree or give you the HR role."
        ),
        "sign_in_link_invalid": (
            "The sign-in link does not work, or no longer applies to you. Ask whoever sent it for a new one."
        ),
        "sign_in_link_expired": "The sign-in link has expired. Ask whoever sent it for a new one.",
        "oidc_too_many_units": (
            "Your groups give you too many units for tempen to keep track of. Ask IT to map the groups to units "
            "higher up in the organisation (docs/tenants.md)."
        ),
        # Revoked personal links (deploy branch)
        "link_revoked": (
            "The link has been revoked and no longer works. If you need to see the alert, ask HR or whoever runs "
            "tempen for a new message."
        ),
        "session_link_revoked": (
            "You have been signed out: the link you signed in with has been revoked. Ask HR or whoever runs tempen "
            "for a new message if you need the alert."
        ),
        # Action plans (entrypoints/plans.py, templates/plan.html)
        "plan_title": "Action plan",
        "plan_none": "No action plan has been written yet.",
        "plan_what": "What will be done",
        "plan_owner": "Owner",
        "plan_due": "Due",
        "plan_no_due": "no date set",
        "plan_status": "Status",
        "plan_status_planned": "Planned",
        "plan_status_in_progress": "In progress",
        "plan_status_done": "Done",
        "plan_written": "Last changed {when} by {who} (revision {revision}).",
        "plan_history": "The plan's history, latest first",
        "plan_revision": "Revision",
        "plan_changed": "Changed by",
        "plan_comments": "Follow-up",
        "plan_no_comments": "No comments yet.",
        "plan_write": "Write the action plan",
        "plan_revise": "Change the action plan",
        "plan_what_hint": "What will be done? 3 to 5,000 characters.",
        "plan_owner_hint": "Who owns it? A name or an e-mail address.",
        "plan_due_hint": "Format YYYY-MM-DD.",
        "plan_save": "Save the plan",
        "plan_comment_add": "Add a comment",
        "plan_comment": "Comment",
        "plan_comment_hint": "How is it going? 2 to 2,000 characters.",
        "plan_comment_save": "Save the comment",
        "plan_saved": "The action plan is saved.",
        "comment_saved": "The comment is saved.",
        "plan_closed": (
            "The alert closed more than half a year ago, so its plan can no longer be changed. "
            "If the problem is back, a new alert opens when the results show it."
        ),
    },
}


def number(value: float | None, language: Language, *, digits: int = 1) -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",").replace("-", "−") if language == "sv" else text


def word(language: Language, key: str) -> str:
    """The phrase for `key`; an unknown key shows as itself, so a missing phrase is visible, not fatal
    (the catalogue test keeps them from going missing)."""
    return WORDS[language].get(key, key)
