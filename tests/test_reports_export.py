"""Report exports: CSV and XLSX read back, small cells suppressed, the event log anonymised."""

import csv
import io

from openpyxl import load_workbook

from .helpers import sign_in
from .test_reports import make_history

RANGE = "from=2026-11-23&to=2026-11-23"


def csv_rows(answer):
    return list(csv.reader(io.StringIO(answer.text)))


def test_csv_suppresses_small_cells_for_partners(engine, site, clock, client, staff):
    make_history(engine, site, clock)
    sign_in(client, "kostas")
    answer = client.get(f"/api/v1/sites/{site.id}/reports?{RANGE}&group=service&format=csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    heading, *rows = csv_rows(answer)
    assert heading[:4] == ["Key", "Group", "Visits", "Served"]
    # Every service had fewer than 5 visits, and so had the total (4).
    assert all(row[2:] == ["<5"] * (len(heading) - 2) for row in rows)
    assert rows[-1][:2] == ["total", "Total"]

    kept = csv_rows(client.get(
        f"/api/v1/sites/{site.id}/reports?{RANGE}&group=service&format=csv&suppress=false"))
    total = dict(zip(kept[0], kept[-1], strict=True))
    assert total["Visits"] == "4" and total["Served"] == "3" and total["No-shows"] == "1"


def test_small_cell_threshold_is_configurable(engine, site, clock, make_client, staff):
    make_history(engine, site, clock)
    client = make_client(REPORT_MINIMUM_COUNT=2)
    sign_in(client, "kostas")
    heading, *rows = csv_rows(client.get(
        f"/api/v1/sites/{site.id}/reports?{RANGE}&group=service&format=csv"))
    by_key = {row[0]: dict(zip(heading, row, strict=True)) for row in rows}
    assert by_key[str(site.services["registration"])]["Visits"] == "3"
    assert by_key[str(site.services["certificates"])]["Visits"] == "<2"


def test_partner_staff_cannot_lift_suppression(engine, site, clock, client, staff):
    make_history(engine, site, clock)
    sign_in(client, "leila")
    _heading, *rows = csv_rows(client.get(
        f"/api/v1/sites/{site.id}/reports?{RANGE}&format=csv&suppress=false"))
    assert [row[0] for row in rows] == [str(site.services["legal_advice"]), "total"]
    assert rows[0][2] == "<5"


def test_xlsx_reads_back(engine, site, clock, client, staff):
    make_history(engine, site, clock)
    sign_in(client, "kostas")
    answer = client.get(
        f"/api/v1/sites/{site.id}/reports?{RANGE}&group=language&format=xlsx&suppress=false")
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.data)).active
    assert sheet.title == "language"
    values = list(sheet.iter_rows(values_only=True))
    heading = values[0]
    rows = {row[0]: dict(zip(heading, row, strict=True)) for row in values[1:]}
    assert rows["el"]["Visits"] == 2 and rows["el"]["Served"] == 3
    assert rows["total"]["Mean wait (min)"] == 14.5  # waits 6, 10, 40, 2


def test_event_log_is_anonymised(engine, site, clock, client, staff):
    make_history(engine, site, clock)
    with engine.database.session() as session:
        from sqlalchemy import select

        from tessera.models import Ticket
        secrets = [t.token for t in session.scalars(select(Ticket))]
        numbers = [t.number for t in session.scalars(select(Ticket))]
    sign_in(client, "kostas")
    answer = client.get(f"/api/v1/sites/{site.id}/reports/events?{RANGE}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    heading, *rows = csv_rows(answer)
    assert heading == ["visit", "service_day", "local_time", "kind", "service",
                       "organisation", "language", "desk", "waited_minutes", "to_service"]
    assert {row[0] for row in rows} == {"1", "2", "3", "4"}
    referral = next(row for row in rows if row[3] == "referred")
    assert referral[4:] == ["registration", "municipality", "el", "desk-1", "",
                            "legal_advice"]
    first_call = next(row for row in rows if row[3] == "called")
    assert first_call[2] == "2026-11-23 10:06" and first_call[8] == "6.0"
    for secret in secrets + numbers + ["kostas", "Kostas"]:
        assert secret not in answer.text

    book = load_workbook(io.BytesIO(client.get(
        f"/api/v1/sites/{site.id}/reports/events?{RANGE}&format=xlsx").data))
    assert book.active.max_row == len(rows) + 1


def test_event_log_is_for_managers_only(engine, site, client, staff):
    sign_in(client, "leila")
    assert client.get(f"/api/v1/sites/{site.id}/reports/events?{RANGE}").status_code == 403
    sign_in(client, "kostas")
    answer = client.get(f"/api/v1/sites/{site.id}/reports/events?{RANGE}&format=json")
    assert answer.status_code == 422
