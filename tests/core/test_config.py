"""shipsync.toml: composed schema, every problem with its path, secrets, search order, TOML."""

from __future__ import annotations

import json
import pickle
import tomllib
from pathlib import Path
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from shipsync import ConfigSchema
from shipsync.cli import create_app
from shipsync.config import (
    ENV_VAR,
    ConfigError,
    Secret,
    compose_schema,
    dump_toml,
    find_config_path,
    load_config,
)
from shipsync.plugins import PluginHost, make_plugin_manager

THREE_MISTAKES = """\
[starshipit]
api_key = "k"
subscription_key = 5

[bigcommerce.stores.main]
api_path = "https://api.bigcommerce.com/stores/abc123/v3/"
access_token = "t"
update_status = 7
days = 0
"""
THREE_PATHS = {"$.starshipit.subscription_key", "$.bigcommerce.stores.main.update_status",
               "$.bigcommerce.stores.main.days"}


@pytest.fixture
def sections() -> list[ConfigSchema]:
    return PluginHost(make_plugin_manager()).config_schemas.values()


@pytest.fixture
def load(sections: list[ConfigSchema]) -> Callable[..., Any]:
    def load_(path: Path, environ: dict[str, str] | None = None) -> Any:
        return load_config(path, sections, environ=environ or {})

    return load_


def problems_of(error: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {p.path: p.message for p in error.value.problems}


# --------------------------------------------------------------------------- validation


def test_minimal_config_is_valid(write_config: Callable[..., Path], load: Any) -> None:
    config = load(write_config())
    assert config.section("bigcommerce")["stores"]["main"]["api_path"].endswith("/abc123/v3/")


def test_every_mistake_is_reported_with_its_json_path(write_config: Callable[..., Path],
                                                      load: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write_config(THREE_MISTAKES))
    assert set(problems_of(caught)) == THREE_PATHS
    assert "is not one of [2, 10]" in problems_of(caught)["$.bigcommerce.stores.main.update_status"]


def test_config_check_prints_every_mistake_and_exits_2(write_config: Callable[..., Path],
                                                       shipsync_run: Any) -> None:
    path = write_config(THREE_MISTAKES, name="bad.toml")
    ran = shipsync_run("config", "check", str(path))
    assert ran.code == 2
    assert "3 problem(s)" in ran.stderr
    for json_path in THREE_PATHS:
        assert json_path in ran.stderr
    assert "Traceback" not in ran.stderr


def test_config_check_json_lists_the_problems(write_config: Callable[..., Path]) -> None:
    path = write_config(THREE_MISTAKES, name="bad.toml")
    result = CliRunner().invoke(create_app(PluginHost.load()), ["config", "check", "--json",
                                                                str(path)])
    assert result.exit_code == 2
    answer = json.loads(result.stdout)
    assert answer["ok"] is False
    assert {p["path"] for p in answer["problems"]} == THREE_PATHS


def test_config_check_accepts_a_valid_file(write_config: Callable[..., Path],
                                           shipsync_run: Any) -> None:
    path = write_config()
    ran = shipsync_run("config", "check", str(path))
    assert ran.code == 0, ran.stderr
    assert f"{path}: OK" in ran.stdout


def test_unknown_top_level_section_is_an_error_listing_the_known_ones(
        write_config: Callable[..., Path], load: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write_config(extra="[starshipp]\nbase_url = 'x'\n"))
    message = problems_of(caught)["$"]
    assert "'starshipp'" in message
    assert "starshipit" in message and "bigcommerce" in message  # the allowed sections


def test_unknown_key_in_a_store_is_reported_at_the_store(write_config: Callable[..., Path],
                                                         load: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write_config(extra="colour = 'red'\n"))  # lands in [bigcommerce.stores.main]
    assert "'colour'" in problems_of(caught)["$.bigcommerce.stores.main"]


def test_config_check_reports_an_unknown_mapper_name(write_config: Callable[..., Path]) -> None:
    path = write_config(extra='\n[mapping]\nmappers = ["product-optoins"]\n')
    result = CliRunner().invoke(create_app(PluginHost.load()), ["config", "check", "--json",
                                                                str(path)])
    assert result.exit_code == 2
    problems = json.loads(result.stdout)["problems"]
    assert any("product-optoins" in p["message"] for p in problems)


def test_plugin_section_cannot_take_a_core_section_name() -> None:
    with pytest.raises(ValueError, match="'state'"):
        compose_schema([ConfigSchema("state", {"type": "object"})])


# --------------------------------------------------------------------------- secrets


ENV_CONFIG = """\
[state]
path = "{state}"

[starshipit]
api_key = "LITERAL-API-KEY-1234"
subscription_key = {{ env = "SS_TEST_SUBSCRIPTION" }}

[bigcommerce.stores.main]
api_path = "https://api.bigcommerce.com/stores/abc123/v3/"
access_token = {{ env = "SS_TEST_BC_TOKEN" }}
client_secret = "LITERAL-CLIENT-SECRET-5678"
"""
ENV = {"SS_TEST_SUBSCRIPTION": "ENV-SUBSCRIPTION-VALUE-9", "SS_TEST_BC_TOKEN": "ENV-TOKEN-VALUE-7"}
SECRET_VALUES = ["LITERAL-API-KEY-1234", "LITERAL-CLIENT-SECRET-5678", *ENV.values()]


@pytest.fixture
def env_config(write_config: Callable[..., Path], tmp_path: Path) -> Path:
    return write_config(ENV_CONFIG.format(state=tmp_path / "s.db"))


def test_env_reference_resolves_to_a_secret_from_the_environment(env_config: Path,
                                                                  load: Any) -> None:
    config = load(env_config, ENV)
    token = config.section("bigcommerce")["stores"]["main"]["access_token"]
    assert isinstance(token, Secret)
    assert token.reveal() == "ENV-TOKEN-VALUE-7"
    assert token.source == "env:SS_TEST_BC_TOKEN"
    literal = config.section("starshipit")["api_key"]
    assert isinstance(literal, Secret) and literal.source == "literal"
    assert literal.reveal() == "LITERAL-API-KEY-1234"


def test_secret_never_shows_its_value(env_config: Path, load: Any) -> None:
    config = load(env_config, ENV)
    token = config.section("bigcommerce")["stores"]["main"]["access_token"]
    shown = [str(token), repr(token), f"{token}", f"{token!r}", "%s" % token,
             repr(config.data), str(config.data)]
    for text in shown:
        for value in SECRET_VALUES:
            assert value not in text
    assert "***" in str(token)


def test_config_repr_never_shows_literal_secrets(env_config: Path, load: Any) -> None:
    config = load(env_config, ENV)
    for value in SECRET_VALUES:
        assert value not in repr(config)


def test_secret_refuses_to_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret("hunter2"))


def test_missing_env_var_is_reported_with_its_path(env_config: Path, load: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        load(env_config, {"SS_TEST_SUBSCRIPTION": "x"})
    problems = problems_of(caught)
    assert set(problems) == {"$.bigcommerce.stores.main.access_token"}
    assert "SS_TEST_BC_TOKEN" in problems["$.bigcommerce.stores.main.access_token"]


def test_invalid_secret_value_is_reported_without_the_value(write_config: Callable[..., Path],
                                                           load: Any, tmp_path: Path) -> None:
    text = ENV_CONFIG.format(state=tmp_path / "s.db").replace(
        '"LITERAL-API-KEY-1234"', '["LITERAL-API-KEY-1234"]')
    with pytest.raises(ConfigError) as caught:
        load(write_config(text), ENV)
    assert "$.starshipit.api_key" in problems_of(caught)
    assert "LITERAL-API-KEY-1234" not in str(caught.value)


def test_type_error_on_a_table_does_not_echo_its_secrets(write_config: Callable[..., Path],
                                                         load: Any) -> None:
    text = STARSHIPIT + """
[[bigcommerce.stores.main]]
api_path = "https://api.bigcommerce.com/stores/abc123/v3/"
access_token = "LITERAL-TOKEN-IN-AN-ARRAY"
"""
    with pytest.raises(ConfigError) as caught:
        load(write_config(text))
    assert "$.bigcommerce.stores.main" in problems_of(caught)
    assert "LITERAL-TOKEN-IN-AN-ARRAY" not in str(caught.value)


@pytest.mark.parametrize("as_json", [False, True])
def test_config_show_never_prints_secret_values(env_config: Path, shipsync_run: Any,
                                                as_json: bool) -> None:
    args = ["--config", str(env_config), "config", "show"] + (["--json"] if as_json else [])
    ran = shipsync_run(*args, env=ENV)
    assert ran.code == 0, ran.stderr
    for value in SECRET_VALUES:
        assert value not in ran.stdout + ran.stderr
    assert "<from $SS_TEST_SUBSCRIPTION>" in ran.stdout
    assert "<from $SS_TEST_BC_TOKEN>" in ran.stdout
    assert "https://api.bigcommerce.com/stores/abc123/v3/" in ran.stdout  # not a secret
    if as_json:
        shown = json.loads(ran.stdout)
        assert shown["starshipit"]["api_key"] == "***"
        assert shown["bigcommerce"]["stores"]["main"]["client_secret"] == "***"


# --------------------------------------------------------------------------- URLs and stores


def store(name: str, api_path: str, prefix: str | None = None, sink: str | None = None) -> str:
    lines = [f"\n[bigcommerce.stores.{name}]", f'api_path = "{api_path}"', 'access_token = "t"']
    if prefix is not None:
        lines.append(f'order_prefix = "{prefix}"')
    if sink is not None:
        lines.append(f'sink = "{sink}"')
    return "\n".join(lines) + "\n"


STARSHIPIT = '[starshipit]\napi_key = "k"\nsubscription_key = "s"\n'


@pytest.mark.parametrize("api_path", [
    "http://api.bigcommerce.com/stores/abc123/v3/",
    "http://10.0.0.5:8080/stores/abc123/v3/",
])
def test_plain_http_api_path_off_loopback_is_refused(write_config: Callable[..., Path],
                                                     load: Any, api_path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write_config(STARSHIPIT + store("main", api_path)))
    assert "https" in problems_of(caught)["$.bigcommerce.stores.main.api_path"]


@pytest.mark.parametrize("api_path", [
    "http://127.0.0.1:8080/stores/abc123/v3/",
    "http://localhost:8080/stores/abc123/v3/",
    "http://[::1]:8080/stores/abc123/v3/",
])
def test_plain_http_api_path_on_loopback_is_accepted(write_config: Callable[..., Path],
                                                     load: Any, api_path: str) -> None:
    config = load(write_config(STARSHIPIT + store("main", api_path)))
    assert config.section("bigcommerce")["stores"]["main"]["api_path"] == api_path


def test_plain_http_starshipit_base_url_off_loopback_is_refused(
        write_config: Callable[..., Path], load: Any) -> None:
    text = (STARSHIPIT + 'base_url = "http://api.starshipit.com"\n'
            + store("main", "https://api.bigcommerce.com/stores/abc123/v3/"))
    with pytest.raises(ConfigError) as caught:
        load(write_config(text))
    assert "https" in problems_of(caught)["$.starshipit.base_url"]


def test_api_path_that_is_not_a_bigcommerce_path_is_refused(write_config: Callable[..., Path],
                                                             load: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write_config(STARSHIPIT + store("main", "https://example.com/api/")))
    assert "$.bigcommerce.stores.main.api_path" in problems_of(caught)


def test_two_stores_with_the_same_prefix_on_one_account_is_an_error(
        write_config: Callable[..., Path], load: Any) -> None:
    api = "https://api.bigcommerce.com/stores/{}/v3/"
    text = STARSHIPIT + store("au", api.format("aaa111"), "W") + store("nz", api.format("bbb222"),
                                                                       "W")
    with pytest.raises(ConfigError) as caught:
        load(write_config(text))
    message = problems_of(caught)["$.bigcommerce.stores.nz.order_prefix"]
    assert "'au'" in message and "'nz'" in message


def test_stores_with_different_prefixes_or_accounts_are_accepted(
        write_config: Callable[..., Path], load: Any) -> None:
    api = "https://api.bigcommerce.com/stores/{}/v3/"
    text = (STARSHIPIT + store("au", api.format("aaa111"), "AU-")
            + store("nz", api.format("bbb222"), "NZ-")
            + store("uk", api.format("ccc333"), "AU-", sink="other-account"))
    config = load(write_config(text))
    assert sorted(config.section("bigcommerce")["stores"]) == ["au", "nz", "uk"]


def test_a_rate_limit_reserve_that_leaves_shipsync_nothing_is_refused(
        write_config: Callable[..., Path], load: Any) -> None:
    api = "https://api.bigcommerce.com/stores/aaa111/v3/"
    with pytest.raises(ConfigError) as caught:
        load(write_config(STARSHIPIT + store("main", api) + "rate_limit_reserve = 150\n"))
    assert "below rate_limit" in problems_of(caught)["$.bigcommerce.stores.main.rate_limit_reserve"]
    config = load(write_config(STARSHIPIT + store("main", api) + "rate_limit_reserve = 30\n"))
    assert config.section("bigcommerce")["stores"]["main"]["rate_limit_reserve"] == 30


# --------------------------------------------------------------------------- files


def test_invalid_toml_is_a_clear_error(write_config: Callable[..., Path], load: Any) -> None:
    path = write_config("[starshipit\napi_key = 1\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert "not valid TOML" in str(caught.value)
    assert "line 1" in str(caught.value)
    assert caught.value.path == path


def test_invalid_toml_exits_2_with_a_clear_error(write_config: Callable[..., Path],
                                                 shipsync_run: Any) -> None:
    path = write_config("[starshipit\n")
    ran = shipsync_run("--config", str(path), "config", "show")
    assert ran.code == 2
    assert "not valid TOML" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_missing_file_is_a_clear_error(tmp_path: Path, load: Any) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as caught:
        load(missing)
    assert f"no config file at {missing}" in str(caught.value)
    assert "--config" in str(caught.value)


def test_missing_file_exits_2(tmp_path: Path, shipsync_run: Any) -> None:
    ran = shipsync_run("config", "check", str(tmp_path / "nowhere.toml"))
    assert ran.code == 2
    assert "no config file at" in ran.stderr


def test_config_path_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert find_config_path(None) == tmp_path / "shipsync.toml"
    monkeypatch.setenv(ENV_VAR, "/from/env.toml")
    assert find_config_path(None) == Path("/from/env.toml")
    assert find_config_path("explicit.toml") == Path("explicit.toml")


def test_cli_finds_config_by_option_then_env_then_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("cwd", "env", "option"):
        (tmp_path / name).mkdir()
        prefix = {"cwd": "C", "env": "E", "option": "O"}[name]
        (tmp_path / name / "shipsync.toml").write_text(
            STARSHIPIT + store("main", "https://api.bigcommerce.com/stores/abc123/v3/", prefix))
    app = create_app(PluginHost.load())
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.delenv(ENV_VAR, raising=False)

    def shown_prefix(*args: str) -> str:
        result = CliRunner().invoke(app, [*args, "config", "show", "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["bigcommerce"]["stores"]["main"]["order_prefix"]

    assert shown_prefix() == "C"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env" / "shipsync.toml"))
    assert shown_prefix() == "E"
    assert shown_prefix("--config", str(tmp_path / "option" / "shipsync.toml")) == "O"


# --------------------------------------------------------------------------- writing TOML


ROUND_TRIP: dict[str, Any] = {
    "state": {"path": "/var/lib/shipsync/state.db"},
    "plugins": {"disable": ["product-options"]},
    "run": {"timeout": 12.5, "max_retries": 0},
    "starshipit": {"api_key": {"env": "API_KEY"}, "subscription_key": 'quote " and \\ slash',
                   "base_url": "http://127.0.0.1:8080"},
    "bigcommerce": {"stores": {
        "main": {"api_path": "https://api.bigcommerce.com/stores/abc/v3/", "access_token": "t",
                 "import_statuses": [9, 11], "pickup_in_store": True, "order_prefix": ""},
        "second-store": {"api_path": "https://x/stores/b/v3/", "access_token": {"env": "T2"},
                         "pickup_in_store": False},
    }},
    "odd keys": {"dotted.key": 1, "": "empty key", "tab": "a\tb"},
    "empty": {},
}


def test_dump_toml_round_trips_through_tomllib() -> None:
    text = dump_toml(ROUND_TRIP, header="written by a test\nsecond line")
    assert text.startswith("# written by a test\n# second line\n")
    assert tomllib.loads(text) == ROUND_TRIP


def test_dump_toml_writes_env_references_inline() -> None:
    text = dump_toml({"starshipit": {"api_key": {"env": "API_KEY"}}})
    assert 'api_key = { env = "API_KEY" }' in text


def test_dump_toml_round_trips_strings_with_control_characters() -> None:
    data = {"section": {"note": "line one\nline two\r\x00\x7f"}}
    assert tomllib.loads(dump_toml(data)) == data


def test_dump_toml_quotes_non_ascii_keys() -> None:
    data = {"product_options": {"größe": ["Size"]}}
    assert tomllib.loads(dump_toml(data)) == data


# --------------------------------------------------------------------------- schema


def test_schema_command_prints_the_composed_json_schema(shipsync_run: Any) -> None:
    ran = shipsync_run("schema")
    assert ran.code == 0, ran.stderr
    schema = json.loads(ran.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    properties = schema["properties"]
    assert {"state", "bigcommerce", "starshipit"} <= set(properties)
    api_key = properties["starshipit"]["properties"]["api_key"]
    assert api_key["x-secret"] is True
    assert any(option.get("required") == ["env"] for option in api_key["anyOf"])
    store_schema = properties["bigcommerce"]["properties"]["stores"]["additionalProperties"]
    assert "access_token" in store_schema["properties"]  # $refs inlined
