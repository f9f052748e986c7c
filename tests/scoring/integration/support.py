"""Six months (June to November 2026) of Testkommun scored on real PostgreSQL and served by the real scoring
app, read on 7 December 2026 (the app's clock): the world of test_hidden_units.py and test_tenant_scores.py
(the app itself is the fixture `six_months` of conftest.py).

- Grupp B1 has a small team every month: hidden, below the minimum, so it can never alert.
- Enhet B has 6 of its own members: enough, but Enhet B's roll-up minus them would reveal Grupp B1,
  so its own group is hidden for differencing, protecting Enhet B.
- Grupp A1 has 8 a month, but 4 in September: hidden once, it can still alert. That month Enhet B's
  roll-up is hidden instead, to protect Grupp A1's 4 inside Förvaltningen.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tempen_scoring.domain.rescoring import IncomingContribution
from tempen_scoring.service import contributions_of
from tempen_shared.access.tokens import Scope
from tempen_shared.events import SubmissionAccepted, submission_event_id
from tempen_shared.tenancy.loader import Catalog, load_catalog
from tests.auth.helpers import issue_token
from tests.conftest import FIXTURE_CONFIG

CATALOG = load_catalog(FIXTURE_CONFIG)
TODAY = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
MONTHS = (6, 7, 8, 9, 10, 11)


def submissions(
    unit: str, month: int, first: int, count: int, catalog: Catalog = CATALOG
) -> list[IncomingContribution]:
    """The contributions of `count` answers in `unit` on the 12th of `month`, numbered from `first`."""
    when = datetime(2026, month, 12, 9, 0, tzinfo=UTC)
    out: list[IncomingContribution] = []
    for n in range(first, first + count):
        sid = f"{unit}-{month}-{n}"
        event = SubmissionAccepted(
            event_id=submission_event_id("testkommun", sid, 1),
            occurred_at=when,
            tenant="testkommun",
            instrument="test-puls",
            unit=unit,
            submission_id=sid,
            revision=1,
            submitted_at=when,
            answers={"q1": 2 + n % 3, "q2": 3, "q3": 4},
        )
        out.extend(contributions_of(event, catalog))
    return out


async def read_only_headers(database_url: str, tenant: str = "testkommun") -> dict[str, str]:
    """An Authorization header with a new token that may read `tenant`, and nothing else."""
    return {"authorization": f"Bearer {await issue_token(database_url, tenant=tenant, scopes={Scope.READ})}"}
