"""A taken port is found before anything starts, and named with the setting that moves it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tasador.platform.local import listeners
from tasador.platform.ports import Listener, PortInUseError, port_in_use, require_free
from tasador.settings import DatabaseSettings, Settings, describe_settings, env_name


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_listening_port_is_in_use_and_a_closed_one_is_not(listening: int) -> None:
    assert port_in_use("127.0.0.1", listening)
    assert not port_in_use("127.0.0.1", _free_port())


def test_every_taken_port_is_named_with_its_service_and_setting(listening: int) -> None:
    free = _free_port()
    with pytest.raises(PortInUseError) as caught:
        require_free([
            Listener("the embedded PostgreSQL", "127.0.0.1", listening, "TASADOR_DB_EMBEDDED_PORT"),
            Listener("the inference API", "127.0.0.1", free, "TASADOR_SERVING_PORT"),
        ])  # fmt: skip
    message = str(caught.value)
    assert f"127.0.0.1:{listening}, for the embedded PostgreSQL, is in use" in message
    assert "TASADOR_DB_EMBEDDED_PORT" in message
    assert "TASADOR_SERVING_PORT" not in message  # its port is free


def test_free_ports_pass() -> None:
    require_free([Listener("the inference API", "127.0.0.1", _free_port(), "TASADOR_SERVING_PORT")])


def test_each_listener_names_a_real_setting_for_its_port() -> None:
    settings = Settings()
    found = listeners(settings, postgres=True)
    variables = {variable for variable, _, _ in describe_settings()}
    assert {item.setting for item in found} <= variables
    assert {item.port for item in found} == {
        settings.serving.port,
        settings.db.embedded_port,
        settings.mlflow.port,
        settings.simulator.port,
        settings.ui.port,
    }
    with pytest.raises(KeyError):
        env_name(DatabaseSettings, "embeded_port")


def test_an_ipv6_listener_is_found_and_an_unknown_host_is_not_in_use() -> None:
    if not socket.has_ipv6:
        pytest.skip("this machine has no IPv6")
    with socket.socket(socket.AF_INET6) as sock:
        try:
            sock.bind(("::1", 0))
        except OSError as err:
            pytest.skip(f"no IPv6 loopback here: {err}")
        sock.listen()
        assert port_in_use("::1", sock.getsockname()[1])
    assert not port_in_use("no-such-host.invalid", 8000)
