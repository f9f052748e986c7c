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
        "plan_so_far": "Handlingsplan hittills",
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
        "role_webhook": "Kanal",
        "rule_sustained_challenge": "Ihållande lågt resultat",
        "rule_no_improvement": "Ingen förbättring",
        "rule_unacknowledged": "Inte kvitterad i tid",
        "rule_recovered": "Resultatet har återhämtat sig",
        "rule_acknowledged": "Kvitterad",
        "rule_resolved_by_hand": "Avslutad för hand",
        "system": "tempen",
        # Revoked personal links (deploy branch)
        "link_revoked": (
            "Länken är återkallad och fungerar inte längre. Om du behöver se signalen, be HR eller den som "
            "administrerar tempen om ett nytt meddelande."
        ),
        "session_link_revoked": (
            "Du har loggats ut: länken du loggade in med har återkallats. Be HR eller den som administrerar "
            "tempen om ett nytt meddelande om du behöver komma åt signalen."
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
        "plan_so_far": "Action plan so far",
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
        "role_webhook": "Channel",
        "rule_sustained_challenge": "Sustained low result",
        "rule_no_improvement": "No improvement",
        "rule_unacknowledged": "Not acknowledged in time",
        "rule_recovered": "The result has recovered",
        "rule_acknowledged": "Acknowledged",
        "rule_resolved_by_hand": "Resolved by hand",
        "system": "tempen",
        # Revoked personal links (deploy branch)
        "link_revoked": (
            "The link has been revoked and no longer works. If you need to see the alert, ask HR or whoever runs "
            "tempen for a new message."
        ),
        "session_link_revoked": (
            "You have been signed out: the link you signed in with has been revoked. Ask HR or whoever runs tempen "
            "for a new message if you need the alert."
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
