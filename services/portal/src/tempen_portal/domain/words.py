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
        # Overview pages: start page, My units, HR overview (overview branch)
        "start_title": "Start",
        "start_intro": "Det här kan du öppna i tempen.",
        "my_units": "Mina enheter",
        "my_units_text": (
            "Senaste index per område, och utvecklingen, för enheterna du är chef för och enheterna under dem."
        ),
        "hr_overview": "HR-översikt",
        "hr_overview_text": "Hela kommunen: värmekarta, öppna signaler, svarsfrekvens och enheter som inte kan visas.",
        "hme_report": "HME-rapport",
        "hme_report_text": "HME-index per förvaltning och mätomgång, som sida och som CSV.",
        "my_alerts": "Öppna signaler du kan se",
        "no_open_alerts": "Inga öppna signaler.",
        "not_a_manager": (
            "Du står inte som chef för någon enhet i organisationen. Stämmer det inte, be HR rätta organisationsfilen."
        ),
        "hr_only": "Sidan är bara för HR. Dina egna enheter finns under Mina enheter.",
        "model": "Modell",
        "show": "Visa",
        "forvaltning": "Förvaltning",
        "all_forvaltningar": "Alla förvaltningar",
        "all_dimensions": "Alla områden",
        "heatmap": "Värmekarta",
        "heatmap_caption": "Index per enhet och område, {period}",
        "legend": "Förklaring",
        "band_high": "grön: 75 eller mer",
        "band_middle": "gul: 65 till 74,9",
        "band_low": "röd: under 65",
        "band_high_short": "grön",
        "band_middle_short": "gul",
        "band_low_short": "röd",
        "bands_source": (
            "Gränserna är de som föreslås för HME i fältanteckningarna (Region Gävleborgs mål 75); SKR har inga"
            " fastställda färggränser."
        ),
        "respondents": "Svar",
        "response_rate": "Svarsfrekvens",
        "scope_note": "Varje rad gäller enheten tillsammans med enheterna under den.",
        "empty_note": (
            "”för få svar”: färre än {min} svarade, eller resultatet skulle gå att räkna fram för en mindre grupp"
            " genom att jämföra med andra visade resultat. – : inga svar den perioden."
        ),
        "trend_of": "Utveckling {first} till {last}",
        "latest_period": "Senaste period",
        "page_n": "Sida {page} av {pages}",
        "previous_page": "Föregående sida",
        "next_page": "Nästa sida",
        "bad_period": "Perioden går inte att visa. Välj en avslutad period i listan.",
        "no_scores_yet": "Inga resultat ännu för den här modellen.",
        "open_alerts": "Öppna signaler",
        "age_days": "Ålder (dagar)",
        "acknowledged": "Kvitterad",
        "yes": "ja",
        "no": "nej",
        "plan": "Plan",
        "plan_planned": "planerad",
        "plan_in_progress": "pågår",
        "plan_done": "klar",
        "overview_plan_written": "handlingsplan skriven",
        "overview_plan_none": "ingen plan än",
        "hidden_units": "Enheter som inte kan visas",
        "hidden_units_text": (
            "Anonymitetsreglerna döljer de här grupperna under de senaste {periods} perioderna: minst {min} måste"
            " svara, och ingen mindre grupp får gå att räkna fram ur visade resultat. Slå ihop små grupper så kan"
            " de visas och larma."
        ),
        "hidden_none": "Inga grupper döljs.",
        "group": "Grupp",
        "group_subtree": "{name} med enheterna under",
        "hidden_reason_below_minimum": "färre än {min} svarade",
        "hidden_reason_no_responses": "ingen svarade",
        "hidden_reason_differencing": "skyddar en mindre grupp i {around}",
        "hidden_in": "dold {hidden} av {measured} mätta perioder",
        "can_alert_false": "Kan aldrig larma: {needed} visade perioder krävs, den hade {published} av {measured}.",
        "can_alert_none": "För få mätta perioder för att veta om den kan larma.",
        "can_alert_late": "Larmar sent: visas i {published} av {measured} perioder.",
        "can_alert_true": "Kan larma.",
        "what_hr_can_do": "Vad HR kan göra",
        "action_merge_small_group": (
            "{name} är själv stor nog: den lilla gruppen är en annan del av {around}. Slå ihop den med en"
            " syskonenhet i organisationsfilen (tempen org import), så kan {name} visas igen."
        ),
        "action_check_survey_reaches": "Kontrollera att enkäten når {name} (enhetens id i enkätverktyget).",
        "action_merge_team": (
            "Slå ihop {name} med en syskonenhet i organisationsfilen (tempen org import), så att de tillsammans"
            " når {min} svar."
        ),
        "action_encourage_answers": "Uppmuntra fler att svara: en grupp visas bara när minst {min} svarar.",
        "action_change_cadence": (
            "Mät mer sällan, till exempel kvartalsvis i stället för månadsvis: en längre period samlar fler svar."
        ),
        "action_lower_minimum": (
            "Minsta gruppstorlek kan sänkas (lägst 3), men det försvagar anonymiteten: ett beslut för"
            " dataskyddsombudet."
        ),
        "the_group_above": "gruppen ovanför",
        "bad_filter": "Urvalet går inte att använda. Välj modell, förvaltning och område i listorna på sidan.",
        "hidden_link": "Enheter som inte kan visas, och varför",
        "alerts_shown": "Visar de {shown} med högst nivå och längst öppna av {total}.",
        "alerts_shown_at_least": "Visar de {shown} med högst nivå och längst öppna av minst {total}.",
        "alerts_filter_hint": "Välj en förvaltning för att se dess signaler.",
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
        # Overview pages: start page, My units, HR overview (overview branch)
        "start_title": "Start",
        "start_intro": "This is what you can open in tempen.",
        "my_units": "My units",
        "my_units_text": "The latest index per area, and the trend, for the units you manage and those below them.",
        "hr_overview": "HR overview",
        "hr_overview_text": (
            "The whole municipality: heatmap, open alerts, response rates and units that cannot be shown."
        ),
        "hme_report": "HME report",
        "hme_report_text": "HME index per förvaltning and survey round, as a page and as CSV.",
        "my_alerts": "Open alerts you can see",
        "no_open_alerts": "No open alerts.",
        "not_a_manager": (
            "You are not listed as the manager of any unit in the organisation. If that is wrong, ask HR to correct"
            " the org file."
        ),
        "hr_only": "This page is for HR only. Your own units are under My units.",
        "model": "Model",
        "show": "Show",
        "forvaltning": "Förvaltning",
        "all_forvaltningar": "All förvaltningar",
        "all_dimensions": "All areas",
        "heatmap": "Heatmap",
        "heatmap_caption": "Index per unit and area, {period}",
        "legend": "Legend",
        "band_high": "green: 75 or more",
        "band_middle": "yellow: 65 to 74.9",
        "band_low": "red: below 65",
        "band_high_short": "green",
        "band_middle_short": "yellow",
        "band_low_short": "red",
        "bands_source": (
            "The bands are those the field notes propose for HME (Region Gävleborg's target of 75); SKR sets no"
            " colour bands."
        ),
        "respondents": "Answers",
        "response_rate": "Response rate",
        "scope_note": "Each row is the unit together with the units below it.",
        "empty_note": (
            "“too few answers”: fewer than {min} answered, or the result would let a smaller group be computed by"
            " comparing it with other shown results. – : no answers that period."
        ),
        "trend_of": "Trend {first} to {last}",
        "latest_period": "Latest period",
        "page_n": "Page {page} of {pages}",
        "previous_page": "Previous page",
        "next_page": "Next page",
        "bad_period": "That period cannot be shown. Choose a closed period from the list.",
        "no_scores_yet": "No results yet for this model.",
        "open_alerts": "Open alerts",
        "age_days": "Age (days)",
        "acknowledged": "Acknowledged",
        "yes": "yes",
        "no": "no",
        "plan": "Plan",
        "plan_planned": "planned",
        "plan_in_progress": "in progress",
        "plan_done": "done",
        "overview_plan_written": "action plan written",
        "overview_plan_none": "no plan yet",
        "hidden_units": "Units that cannot be shown",
        "hidden_units_text": (
            "The anonymity rules hide these groups in the last {periods} periods: at least {min} must answer, and no"
            " smaller group may be computable from shown results. Merge small groups and they can be shown and alert."
        ),
        "hidden_none": "No groups are hidden.",
        "group": "Group",
        "group_subtree": "{name} with the units below",
        "hidden_reason_below_minimum": "fewer than {min} answered",
        "hidden_reason_no_responses": "nobody answered",
        "hidden_reason_differencing": "protects a smaller group in {around}",
        "hidden_in": "hidden in {hidden} of {measured} measured periods",
        "can_alert_false": "Can never alert: {needed} shown periods are needed, it had {published} of {measured}.",
        "can_alert_none": "Too few measured periods to tell whether it can alert.",
        "can_alert_late": "Alerts late: shown in {published} of {measured} periods.",
        "can_alert_true": "Can alert.",
        "what_hr_can_do": "What HR can do",
        "action_merge_small_group": (
            "{name} is large enough itself: the small group is another part of {around}. Merge that group with a"
            " sibling in the org file (tempen org import) and {name} can be shown again."
        ),
        "action_check_survey_reaches": "Check that the survey reaches {name} (its unit id in the survey platform).",
        "action_merge_team": (
            "Merge {name} with a sibling in the org file (tempen org import), so that together they reach {min}"
            " answers."
        ),
        "action_encourage_answers": "Encourage answers: a group is shown only when at least {min} answer.",
        "action_change_cadence": (
            "Measure less often, say quarterly instead of monthly: a longer period gathers more answers."
        ),
        "action_lower_minimum": (
            "The minimum group size can be lowered (to 3 at the least), but that weakens anonymity: a decision for"
            " the data protection officer."
        ),
        "the_group_above": "the group above it",
        "bad_filter": (
            "That selection cannot be used. Choose the model, förvaltning and area from the lists on the page."
        ),
        "hidden_link": "Units that cannot be shown, and why",
        "alerts_shown": "Showing the {shown} with the highest level and open longest, of {total}.",
        "alerts_shown_at_least": "Showing the {shown} with the highest level and open longest, of at least {total}.",
        "alerts_filter_hint": "Choose a förvaltning to see its alerts.",
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
