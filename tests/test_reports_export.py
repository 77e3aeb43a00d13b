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


def test_a_lone_small_cell_is_hidden_with_the_next_smallest():
    from tessera.reports.export import suppressed

    assert suppressed([3, 40, 7, 0], 5) == {0, 2}  # 3 alone would be the total minus the rest
    assert suppressed([1, 1, 40, 9], 5) == {0, 1, 3}  # 1 + 1 still names fewer than 5
    assert suppressed([2, 3, 40], 5) == {0, 1}
    assert suppressed([20, 40, 0], 5) == set()
    assert suppressed([2], 5) == {0}


def test_every_table_exports_to_csv_and_to_one_workbook(engine, site, clock, client, staff):
    make_history(engine, site, clock)
    sign_in(client, "kostas")
    url = f"/api/v1/sites/{site.id}/reports?{RANGE}&suppress=false"
    arrivals = csv_rows(client.get(url + "&format=csv&table=arrivals"))
    assert arrivals[0][:3] == ["Weekday", "00", "01"] and len(arrivals) == 8
    assert arrivals[1][0] == "Monday" and arrivals[1][11:13] == ["2", "2"]  # 10:00 and 11:00
    flows = csv_rows(client.get(url + "&format=csv&table=flows"))
    assert flows == [["From", "To", "Visits"], ["Εγγραφή", "Νομική συμβουλή", "1"]]
    unfinished = csv_rows(client.get(url + "&format=csv&table=unfinished&label_language=en"))
    assert unfinished[1:] == [["Certificates", "Left", "1"], ["Registration", "No-show", "1"]]
    handovers = csv_rows(client.get(url + "&format=csv&table=organisation_flows"))
    assert handovers == [["From", "To", "Visits"], ["Δήμος", "Νομική βοήθεια", "1"]]
    book = load_workbook(io.BytesIO(client.get(url + "&format=xlsx").data))
    assert book.sheetnames == ["service", "arrivals", "flows", "organisation_flows",
                               "unfinished"]
    assert list(book["flows"].iter_rows(values_only=True))[1] == ("Εγγραφή", "Νομική συμβουλή", 1)
    bad = client.get(url + "&format=csv&table=people")
    assert bad.status_code == 422 and bad.get_json()["error"]["parameter"] == "table"
    # For partners, the heat map's small counts are hidden as the figures' are.
    hidden = csv_rows(client.get(f"/api/v1/sites/{site.id}/reports?{RANGE}&format=csv"
                                 "&table=arrivals"))
    assert hidden[1][11:13] == ["<5", "<5"] and hidden[1][1] == "0"
