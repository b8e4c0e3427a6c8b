"""The media bench's own logic: which side's CPU a missed target names, and the SeaweedFS server it starts.

The verdicts are judged on runs as the bench records them (seconds, CPU of the tool, the server
and the proxy); the server is a real `weed server` of the bench's own, whose request count comes
from its Prometheus metrics and must match the requests actually sent.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from benchmarks.media_bench import (
    BOUND_SHARE,
    TARGET_VS_S5CMD,
    Floors,
    ServerRuns,
    Timed,
    bound_by,
    median_run,
    report,
    rotated_rounds,
    timed,
    verdicts,
)
from benchmarks.placement import Sides, core_busy, core_pair, cores_apart, read_core_times
from benchmarks.seaweed_server import s3_requests, seaweed_server
from ci import seaweedfs
from tests.support.seaweedfs import unavailable


def run(
    seconds: float,
    client: float = 0.0,
    server: float = 0.0,
    proxy: float = 0.0,
    peak: float = 100.0,
    cores: tuple[float, float] | None = None,
) -> Timed:
    """A run as the bench records it; the cores busy with exactly the run's own processes unless `cores`."""
    client_core, server_core = cores or (client / seconds, (server + proxy) / seconds)
    return Timed(seconds, peak, 1000, client, server, proxy, client_core, server_core)


def transfer_runs(overrides: dict[str, Timed] | None = None) -> dict[str, Timed]:
    """A full set of runs where storagectl meets every target; `overrides` replaces rows by name."""
    runs = {
        "media push": run(10, client=4, server=4),
        "media pull": run(10, client=4, server=4),
        "media push (nothing changed)": run(0.4, client=0.3),
        "media pull (nothing changed)": run(0.4, client=0.3),
        "aws s3 sync push": run(60),
        "aws s3 sync pull": run(60),
        "s5cmd sync push": run(10),
        "s5cmd sync pull": run(12),
    }
    runs.update(overrides or {})
    return runs


def test_busy_client_core_is_named_as_the_bound() -> None:
    assert bound_by(run(10, client=9.5, server=3)) == "client CPU (client 95% of its core, server 30%)"


def test_proxy_cpu_counts_on_the_server_side() -> None:
    # The proxy runs on the server's core: 6 s of server plus 3 s of proxy is that core 90% busy.
    assert bound_by(run(10, client=5, server=6, proxy=3)) == "server CPU (client 50% of its core, server 90%)"


def test_core_taken_by_other_processes_is_named_as_the_machine_load() -> None:
    # The tool had 60% of its core, and the core was busy 97% of the run: others took the rest.
    found = bound_by(run(10, client=6, server=3, cores=(0.97, 0.4)))
    assert found.startswith("client core busy 97% with other processes too (client 60% of its core, server 30%)")


def test_both_cores_full_name_the_side_doing_the_work() -> None:
    # Both cores full with others' work: the client used 78% of its core, the server 15% of its own.
    found = bound_by(run(10, client=7.8, server=1.5, cores=(0.9, 0.97)))
    assert found.startswith("client core busy 90% with other processes too")


def test_neither_side_below_the_bound_share() -> None:
    almost = 10 * BOUND_SHARE - 0.1
    assert bound_by(run(10, client=almost, server=almost)).startswith("neither side's CPU")


def test_every_target_met_names_no_bound() -> None:
    found = verdicts(transfer_runs())
    assert [verdict.met for verdict in found] == [True] * len(found)
    assert all(verdict.bound == "" for verdict in found)


def test_refuses_s5cmd_ratio_below_one() -> None:
    # 0.9x of s5cmd's throughput passed the old 0.8 target; the issue asks for 1.0x.
    assert TARGET_VS_S5CMD == 1.0
    found = verdicts(transfer_runs({"media push": run(10 / 0.9, client=10, server=2)}))
    s5 = next(verdict for verdict in found if verdict.name.startswith("push: 0.90x s5cmd"))
    assert not s5.met
    assert s5.bound.startswith("client CPU")


def test_slow_rerun_is_bound_by_its_own_run() -> None:
    # The re-run's side is judged on the re-run, not on the first run (busy on both sides here).
    found = verdicts(transfer_runs({"media pull (nothing changed)": run(2, client=0.4, server=1.9)}))
    rerun = next(verdict for verdict in found if verdict.name.startswith("pull: re-run"))
    assert (rerun.met, rerun.value) == (False, 5.0)
    assert rerun.bound == "server CPU (client 20% of its core, server 95%)"


def test_a_target_the_servers_cpu_puts_out_of_reach_says_so() -> None:
    # aws took 30 s, so 5x asks for 6 s; the server and proxy needed 7 s of CPU on their one core.
    found = verdicts(transfer_runs({"aws s3 sync push": run(30), "media push": run(10, client=4, server=6, proxy=1)}))
    vs_aws = next(verdict for verdict in found if verdict.name.startswith("push: 3.0x faster than aws"))
    assert not vs_aws.met
    assert vs_aws.floor == (
        "the server and proxy spent 7.0 s of CPU on their one core for these requests, "
        "more than the 6.0 s the target allows (client, server and proxy together: 5.5 s on both cores)"
    )
    assert vs_aws.line().endswith(f"; out of reach here: {vs_aws.floor}")


def test_start_up_before_the_servers_work_puts_a_target_out_of_reach() -> None:
    # make bench, 2026-12-05 17:27 UTC: aws pulled in 15.29 s, so 5x asks for 3.06 s; the server and
    # proxy needed 3.2 s, and no request reaches them during media's 0.44 s start-up.
    runs = transfer_runs({"aws s3 sync pull": run(15.29), "media pull": run(6.52, client=4.7, server=2.7, proxy=0.5)})
    vs_aws = next(verdict for verdict in verdicts(runs, Floors(0.44, 0.72)) if "pull: 2.3x faster" in verdict.name)
    assert vs_aws.floor == (
        "start-up 0.44 s, then the server and proxy spent 3.2 s of CPU on their one core for these requests, "
        "more than the 3.1 s the target allows (client, server and proxy together: 4.0 s on both cores)"
    )
    # Without the start-up, the same server time fits the 5x: a miss with no floor named.
    fits = transfer_runs({"aws s3 sync pull": run(16.5), "media pull": run(6.52, client=4.7, server=2.7, proxy=0.5)})
    assert next(verdict for verdict in verdicts(fits, Floors(0.0, 0.72)) if "pull: 2.5x" in verdict.name).floor == ""


def test_a_missed_target_the_server_could_have_met_names_no_floor() -> None:
    # 5x asks for 6 s and the server needed 3 s: the miss is the client's, not out of reach.
    found = verdicts(transfer_runs({"aws s3 sync push": run(30), "media push": run(10, client=9, server=3)}))
    vs_aws = next(verdict for verdict in found if verdict.name.startswith("push: 3.0x faster than aws"))
    assert (vs_aws.met, vs_aws.floor) == (False, "")
    assert vs_aws.bound.startswith("client CPU")


def test_a_rerun_below_start_up_plus_listing_is_out_of_reach() -> None:
    # The first push took 10 s: 20x asks for 0.5 s, and start-up plus listing alone take 0.8 s.
    found = verdicts(transfer_runs({"media push (nothing changed)": run(1.0, client=0.9)}), Floors(0.45, 0.35))
    rerun = next(verdict for verdict in found if verdict.name.startswith("push: re-run"))
    assert not rerun.met
    assert rerun.floor == "start-up 0.45 s + listing both buckets 0.35 s is more than the 0.50 s the target allows"
    # With a floor below the target's time, a miss is the tool's own.
    found = verdicts(transfer_runs({"media push (nothing changed)": run(1.0, client=0.9)}), Floors(0.1, 0.2))
    assert next(verdict for verdict in found if verdict.name.startswith("push: re-run")).floor == ""


def test_refuses_peak_memory_at_the_limit() -> None:
    found = verdicts(transfer_runs({"media pull": run(10, client=4, server=4, peak=300)}))
    memory = found[-1]
    assert memory.name == "media peak memory 300 MB"
    assert not memory.met


def test_media_only_runs_are_judged_on_rerun_and_memory() -> None:
    runs = {name: value for name, value in transfer_runs().items() if name.startswith("media")}
    assert [verdict.name.split(":")[0] for verdict in verdicts(runs)] == ["push", "pull", "media peak memory 100 MB"]


def test_one_slow_server_run_does_not_decide_a_ratio_of_two_tools() -> None:
    # The make bench run of 2026-12-05: media's push took 11.85 s once where it took 10.0-10.4 s
    # otherwise (the server spent 1.61 ms per PUT instead of 1.30-1.35), s5cmd 10.1 s.
    every_run = {name: [timed_run] for name, timed_run in transfer_runs().items()}
    every_run["media push"] = [run(11.85, client=5, server=8.2), run(10.0, client=4, server=6.6), run(10.2)]
    every_run["s5cmd sync push"] = [run(10.12), run(10.3), run(10.5)]
    server_runs = ServerRuns("seaweedfs", "", every_run, Floors(0.5, 0.6), "")
    assert server_runs.runs["media push"].seconds == 10.2
    s5 = next(verdict for verdict in server_runs.verdicts() if "s5cmd" in verdict.name and "push" in verdict.name)
    assert (s5.name, s5.met) == ("push: 1.01x s5cmd's throughput", True)
    # Judged on that slow run alone, the same push missed.
    alone = verdicts({**transfer_runs(), "media push": every_run["media push"][0], "s5cmd sync push": run(10.12)})
    assert not next(verdict for verdict in alone if "s5cmd" in verdict.name and "push" in verdict.name).met


def test_only_seaweedfs_verdicts_are_judged_moto_is_printed_for_continuity(capsys: pytest.CaptureFixture[str]) -> None:
    every_run = {name: [timed_run] for name, timed_run in transfer_runs().items()}
    for server in ("moto", "seaweedfs"):
        report(ServerRuns(server, "", every_run, Floors(0.5, 0.6), ""), 5000, 250_000_000)
    moto, seaweedfs = capsys.readouterr().out.split("storagectl media:")[1:]
    moto_verdicts = [line for line in moto.splitlines() if "(target " in line]
    assert len(moto_verdicts) == 7
    assert all(line.startswith("[moto, continuity] ") for line in moto_verdicts)
    assert "moto: kept for continuity, not judged; the targets are judged on seaweedfs" in moto
    seaweedfs_verdicts = [line for line in seaweedfs.splitlines() if "(target " in line]
    assert len(seaweedfs_verdicts) == 7
    assert not any(line.startswith("[") for line in seaweedfs_verdicts)


def test_each_tool_starts_a_round_so_none_always_meets_the_most_used_server() -> None:
    def media() -> None: ...
    def aws() -> None: ...
    def s5cmd() -> None: ...

    order = rotated_rounds([media, aws, s5cmd], 3)
    assert order == [media, aws, s5cmd, aws, s5cmd, media, s5cmd, media, aws]
    # Over the rounds every tool's runs sit, on average, at the same place in the sequence.
    assert {sum(i for i, tool in enumerate(order) if tool is each) for each in (media, aws, s5cmd)} == {12}
    assert rotated_rounds([media], 3) == [media, media, media]


def test_a_missed_ratio_inside_the_repeats_spread_says_so_and_one_outside_does_not() -> None:
    # The SeaweedFS run of 2026-12-05 17:49 UTC: media's median push 10.52 s, s5cmd's 10.43 s.
    every_run = {name: [timed_run] for name, timed_run in transfer_runs().items()}
    every_run["media push"] = [run(10.52), run(10.04), run(11.45)]
    every_run["s5cmd sync push"] = [run(10.32), run(10.43), run(11.14)]
    close = ServerRuns("seaweedfs", "", every_run, Floors(0.5, 0.6), "")
    s5 = next(verdict for verdict in close.verdicts() if verdict.name.startswith("push: 0.99x s5cmd"))
    assert not s5.met
    assert s5.spread == "media 10.04-11.45 s, s5cmd 10.32-11.14 s over the repeats"
    assert s5.line().endswith(f"; inside this run's spread: {s5.spread}")
    # Every media run slower than every s5cmd run: a difference, said as a plain miss.
    every_run["media push"] = [run(11.0), run(11.2), run(11.4)]
    every_run["s5cmd sync push"] = [run(10.0), run(10.2), run(10.4)]
    apart = ServerRuns("seaweedfs", "", every_run, Floors(0.5, 0.6), "")
    s5 = next(verdict for verdict in apart.verdicts() if "s5cmd" in verdict.name and verdict.name.startswith("push"))
    assert (s5.met, s5.spread) == (False, "")
    assert "spread" not in s5.line()


def test_the_median_run_is_a_run_that_happened_with_its_own_cpu() -> None:
    slow, middle, fast = run(12, client=6), run(10, client=5), run(9, client=4)
    assert median_run([slow, fast, middle]) is middle
    # Of an even count the faster middle run, never an average no run had.
    assert median_run([slow, fast]) is fast
    assert median_run([slow]) is slow


@pytest.fixture(scope="module")
def weed() -> None:
    try:
        seaweedfs.find_weed()
    except seaweedfs.SeaweedError as error:
        unavailable(str(error))


def test_own_server_counts_the_requests_it_answers(weed: None) -> None:
    with seaweed_server() as server:
        s3 = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        before = server.requests()
        s3.create_bucket(Bucket="counted")
        for index in range(5):
            s3.put_object(Bucket="counted", Key=f"k{index}", Body=b"x")
        s3.list_objects_v2(Bucket="counted")
        s3.head_object(Bucket="counted", Key="k0")
        assert server.requests() - before == 8
        assert server.cpu() > 0
        pid = server.pid
    assert not Path(f"/proc/{pid}").exists() or b"weed" not in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_request_total_sums_every_label_set_and_ignores_histograms() -> None:
    metrics = "\n".join(
        [
            "# TYPE SeaweedFS_s3_request_total counter",
            'SeaweedFS_s3_request_total{bucket="a",code="200",type="PUT"} 12',
            'SeaweedFS_s3_request_total{bucket="a",code="404",type="HEAD"} 3',
            'SeaweedFS_s3_request_total_other{bucket="a"} 100',
            'SeaweedFS_s3_request_seconds_count{bucket="a",type="PUT"} 12',
        ]
    )
    assert s3_requests(metrics) == 15


def test_core_busy_sees_this_process_spinning_on_its_core() -> None:
    pair = core_pair()
    if pair is None:
        pytest.skip("fewer than two cores: the bench does not pin, nor read cores")
    core = pair[0]
    own = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        before = read_core_times(core)
        deadline = time.perf_counter() + 0.3
        while time.perf_counter() < deadline:
            pass
        busy = core_busy(before, read_core_times(core))
    finally:
        os.sched_setaffinity(0, own)
    assert 0.8 <= busy <= 1.0


def test_timed_inside_cores_apart_reads_the_client_core(tmp_path: Path) -> None:
    # The bench times its tools after cores_apart pinned this process to the client's core alone;
    # the cores must still be read (taken before pinning), not silently left at 0%.
    pair = core_pair()
    if pair is None:
        pytest.skip("fewer than two cores: the bench does not pin, nor read cores")
    spin = [sys.executable, "-c", "import time\nend = time.perf_counter() + 0.4\nwhile time.perf_counter() < end: pass"]
    with cores_apart([]):
        found = timed([spin], dict(os.environ), Sides(lambda: 0, lambda: 0.0), tmp_path, pair)
    assert found.client_cpu >= 0.3
    assert found.client_core >= 0.6
    assert found.client_busy <= found.client_core + 0.1
