"""Planning of one scheduler round, with chosen instants (no database)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from chronosched import cron
from chronosched.scheduler import planning, ticks
from chronosched.scheduler.planning import CronDefinition, plan


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def definition(spec: str = "@every 1s", **fields: object) -> CronDefinition:
    base = CronDefinition(
        def_id="d1",
        namespace_id="ns",
        name="job",
        cron_spec=spec,
        timezone="UTC",
        created_at=at("2024-01-01T10:00:00.5"),
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def test_plan__new_definition_fires_ticks_after_creation_only() -> None:
    result = plan(definition(), at("2024-01-01T10:00:03.2"))
    assert result.fire == (
        at("2024-01-01T10:00:01"),
        at("2024-01-01T10:00:02"),
        at("2024-01-01T10:00:03"),
    )
    assert result.advance_to == at("2024-01-01T10:00:03")
    assert result.events == ()
    assert result.next_tick == at("2024-01-01T10:00:04")


def test_plan__nothing_due_before_the_first_tick() -> None:
    result = plan(definition(), at("2024-01-01T10:00:00.9"))
    assert result.fire == ()
    assert result.advance_to is None
    assert result.next_tick == at("2024-01-01T10:00:01")


def test_plan__position_excludes_fired_ticks() -> None:
    result = plan(definition(last_tick=at("2024-01-01T10:00:03")), at("2024-01-01T10:00:04.001"))
    assert result.fire == (at("2024-01-01T10:00:04"),)


def test_plan__tick_exactly_at_now_fires() -> None:
    result = plan(definition(last_tick=at("2024-01-01T10:00:03")), at("2024-01-01T10:00:04"))
    assert result.fire == (at("2024-01-01T10:00:04"),)


def test_plan__position_in_the_future_fires_nothing() -> None:
    result = plan(definition(last_tick=at("2024-01-01T10:00:09")), at("2024-01-01T10:00:05"))
    assert result.fire == ()
    assert result.next_tick == at("2024-01-01T10:00:10")


def test_plan__new_version_starts_at_its_creation() -> None:
    new = definition(created_at=at("2024-01-01T12:00:00.5"), last_tick=at("2024-01-01T10:00:00"))
    result = plan(new, at("2024-01-01T12:00:02.1"))
    assert result.fire == (at("2024-01-01T12:00:01"), at("2024-01-01T12:00:02"))
    assert result.events == ()


def test_plan__new_version_never_refires_its_predecessors_tick() -> None:
    new = definition(created_at=at("2024-01-01T12:00:00.5"), last_tick=at("2024-01-01T12:00:01"))
    assert plan(new, at("2024-01-01T12:00:02.1")).fire == (at("2024-01-01T12:00:02"),)


def test_plan__slow_round_within_grace_fires_every_tick_whatever_the_policy() -> None:
    for policy in ("latest", "none", "all"):
        d = definition(catchup=policy, last_tick=at("2024-01-01T10:00:10"))
        result = plan(d, at("2024-01-01T10:00:14.5"))
        assert len(result.fire) == 4, policy
        assert result.events == ()


HOURLY = definition("0 * * * *", created_at=at("2024-01-01T00:00:00"))


def test_catchup_latest__fires_only_the_newest_missed_tick() -> None:
    d = dataclasses.replace(HOURLY, last_tick=at("2024-01-01T06:00"))
    result = plan(d, at("2024-01-01T11:30"))
    assert result.fire == (at("2024-01-01T11:00"),)
    assert result.advance_to == at("2024-01-01T11:00")
    kinds = {e.event: e for e in result.events}
    assert set(kinds) == {"missed_skipped", "caught_up"}
    assert (
        "4 ticks from 2024-01-01T07:00:00Z to 2024-01-01T10:00:00Z"
        in kinds["missed_skipped"].detail
    )
    assert kinds["missed_skipped"].scheduled_for == at("2024-01-01T10:00")
    assert kinds["caught_up"].scheduled_for == at("2024-01-01T11:00")
    assert "1800.0 s" in kinds["caught_up"].detail


def test_catchup_latest__single_missed_tick_fires_without_skipping() -> None:
    d = dataclasses.replace(HOURLY, last_tick=at("2024-01-01T10:00"))
    result = plan(d, at("2024-01-01T11:30"))
    assert result.fire == (at("2024-01-01T11:00"),)
    assert [e.event for e in result.events] == ["caught_up"]


def test_catchup_latest__prefers_an_on_time_tick_over_missed_ones() -> None:
    d = definition(last_tick=at("2024-01-01T10:00:00"))
    result = plan(d, at("2024-01-01T11:00:00.2"))
    assert result.fire == (at("2024-01-01T11:00:00"),)
    assert [e.event for e in result.events] == ["missed_skipped"]
    assert "3599 ticks" in result.events[0].detail


def test_catchup_none__skips_missed_ticks() -> None:
    d = dataclasses.replace(HOURLY, catchup="none", last_tick=at("2024-01-01T09:00"))
    result = plan(d, at("2024-01-01T11:30"))
    assert result.fire == ()
    assert result.advance_to == at("2024-01-01T11:00")
    assert [e.event for e in result.events] == ["missed_skipped"]
    assert "2 ticks from 2024-01-01T10:00:00Z to 2024-01-01T11:00:00Z" in result.events[0].detail
    assert result.next_tick == at("2024-01-01T12:00")


def test_catchup_none__still_fires_on_time_ticks() -> None:
    d = definition(catchup="none", last_tick=at("2024-01-01T10:00:00"))
    result = plan(d, at("2024-01-01T10:01:00.5"))
    on_time = ["10:00:56", "10:00:57", "10:00:58", "10:00:59", "10:01:00"]
    assert result.fire == tuple(at(f"2024-01-01T{t}") for t in on_time)
    assert "55 ticks" in result.events[0].detail


def test_catchup_all__fires_every_missed_tick_under_the_limit() -> None:
    d = dataclasses.replace(HOURLY, catchup="all", last_tick=at("2024-01-01T08:00"))
    result = plan(d, at("2024-01-01T11:30"))
    assert result.fire == (at("2024-01-01T09:00"), at("2024-01-01T10:00"), at("2024-01-01T11:00"))
    assert [e.event for e in result.events] == ["caught_up"]
    assert "3 ticks" in result.events[0].detail


def test_catchup_all__caps_at_the_limit_keeping_the_newest() -> None:
    d = dataclasses.replace(
        HOURLY, catchup="all", catchup_limit=2, last_tick=at("2024-01-01T06:00")
    )
    result = plan(d, at("2024-01-01T11:30"))
    assert result.fire == (at("2024-01-01T10:00"), at("2024-01-01T11:00"))
    events = {e.event: e for e in result.events}
    assert (
        "3 ticks from 2024-01-01T07:00:00Z to 2024-01-01T09:00:00Z"
        in events["missed_skipped"].detail
    )
    assert "2 ticks" in events["caught_up"].detail


def test_catchup__huge_downtime_counts_with_a_cap_and_stays_cheap() -> None:
    d = definition(catchup="none", last_tick=at("2024-01-01T10:00:00"))
    result = plan(d, at("2024-01-08T10:00:00.5"))  # a week of @every 1s: 604,800 ticks
    assert len(result.fire) == 5
    assert f"more than {planning.COUNT_CAP} ticks" in result.events[0].detail


def test_catchup__first_fire_of_a_definition_created_during_downtime() -> None:
    d = dataclasses.replace(HOURLY, created_at=at("2024-01-01T08:30"))
    result = plan(d, at("2024-01-01T11:30"))
    assert result.fire == (at("2024-01-01T11:00"),)
    assert "2 ticks from 2024-01-01T09:00:00Z" in result.events[0].detail


def test_overlap_skip__skips_while_previous_run_is_active() -> None:
    d = definition(
        overlap="skip",
        last_tick=at("2024-01-01T10:00:03"),
        previous_job_id=42,
        previous_active=True,
    )
    result = plan(d, at("2024-01-01T10:00:04.1"))
    assert result.fire == ()
    assert result.advance_to == at("2024-01-01T10:00:04")
    assert [e.event for e in result.events] == ["overlap_skipped"]
    assert "job 42" in result.events[0].detail
    assert result.events[0].scheduled_for == at("2024-01-01T10:00:04")


def test_overlap_skip__fires_once_previous_run_finished() -> None:
    d = definition(overlap="skip", last_tick=at("2024-01-01T10:00:03"), previous_job_id=42)
    assert plan(d, at("2024-01-01T10:00:04.1")).fire == (at("2024-01-01T10:00:04"),)


def test_overlap_skip__fires_at_most_one_tick_per_round() -> None:
    d = dataclasses.replace(HOURLY, catchup="all", overlap="skip", last_tick=at("2024-01-01T08:00"))
    result = plan(d, at("2024-01-01T11:30"))
    assert result.fire == (at("2024-01-01T11:00"),)
    assert [e.event for e in result.events] == ["caught_up", "overlap_skipped"]


def test_overlap_allow__ignores_active_previous_run() -> None:
    d = definition(last_tick=at("2024-01-01T10:00:03"), previous_active=True)
    assert plan(d, at("2024-01-01T10:00:04.1")).fire == (at("2024-01-01T10:00:04"),)


def test_plan__time_zone_of_the_definition_applies() -> None:
    d = definition("0 9 * * *", timezone="Europe/Berlin", created_at=at("2024-07-01T00:00"))
    result = plan(d, at("2024-07-01T07:00:01"))  # 09:00 CEST = 07:00 UTC
    assert result.fire == (at("2024-07-01T07:00"),)


def test_plan__invalid_spec_raises() -> None:
    with pytest.raises(cron.CronSpecError):
        plan(definition("61 * * * *"), at("2024-01-01T11:00"))


def test_earliest__is_the_first_upcoming_tick() -> None:
    now = at("2024-01-01T10:00:00.7")
    plans = [plan(definition(), now), plan(HOURLY, now)]
    assert planning.earliest(plans) == at("2024-01-01T10:00:01")
    assert planning.earliest([]) is None


@pytest.mark.parametrize(
    ("spec", "n", "expected"),
    [
        ("@every 1s", 2, ["2024-03-01T09:59:59", "2024-03-01T10:00:00"]),
        ("0 0 1 * *", 2, ["2024-02-01T00:00:00", "2024-03-01T00:00:00"]),
        ("0 0 1 1 *", 3, ["2024-01-01T00:00:00"]),
        ("@every 1h", 0, []),
    ],
)
def test_ticks_newest__looks_back_over_growing_windows(
    spec: str, n: int, expected: list[str]
) -> None:
    schedule = cron.parse_cron(spec)
    found = ticks.newest(schedule, at("2023-06-01T00:00"), at("2024-03-01T10:00:00.5"), n)
    assert found == [at(t) for t in expected]


def test_ticks_newest__equals_a_forward_walk() -> None:
    schedule = cron.parse_cron("*/7 3-5 * * MON")
    after, until = at("2024-01-01T00:00"), at("2024-03-01T00:00")
    everything = cron.fire_times(schedule, after, until, 100_000)
    assert ticks.newest(schedule, after, until, 50) == everything[-50:]
    assert ticks.count(schedule, after, until, 10) == 11
    assert ticks.count(schedule, after, until, 100_000) == len(everything)


def test_start_of__never_before_creation() -> None:
    d = definition(last_tick=at("2023-01-01T00:00"))
    assert planning.start_of(d) == d.created_at
    assert planning.start_of(definition()) == at("2024-01-01T10:00:00.5")
