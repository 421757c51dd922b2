"""The command line of the same binary, used against a running server."""

import json
import queue
import signal
import subprocess
import threading
import time

from conftest import free_port, sluice_bin
from sluice_client import assert_error, event, events, unique


def cli(*args, timeout=30):
    return subprocess.run(
        [sluice_bin(), *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_cli_append_prints_the_json_answer_and_writes_the_event(server, api):
    s = unique("cli")
    out = cli("append", s, "--type", "CliAppended", "--data", '{"amount": 12, "note": "ü"}', "--server", server.base_url)
    assert out.returncode == 0, out
    answer = json.loads(out.stdout)
    assert answer["nextExpectedRevision"] == 0
    stored = api.read_ok(s)["events"]
    assert [(e["eventType"], e["data"]) for e in stored] == [("CliAppended", {"amount": 12, "note": "ü"})]
    assert answer["position"] == stored[0]["position"]


def test_cli_append_with_matching_expected_revisions_is_written(server, api):
    s = unique("cli")
    first = cli("append", s, "--type", "T", "--data", "{}", "--expected-revision", "no_stream", "--server", server.base_url)
    assert first.returncode == 0, first
    second = cli("append", s, "--type", "T", "--data", "[1]", "--expected-revision", "0", "--server", server.base_url)
    assert second.returncode == 0, second
    assert json.loads(second.stdout)["nextExpectedRevision"] == 1
    assert api.revisions(s) == [0, 1]


def test_cli_append_with_stale_expected_revision_fails_with_a_message(server, api):
    s = unique("cli")
    api.append_ok(s, events(2))
    out = cli("append", s, "--type", "T", "--data", "{}", "--expected-revision", "0", "--server", server.base_url)
    assert out.returncode != 0, out
    assert (out.stderr + out.stdout).strip(), "no message"
    assert api.revisions(s) == [0, 1]


def test_cli_append_with_invalid_json_data_fails_with_a_message_and_writes_nothing(server, api):
    s = unique("cli")
    out = cli("append", s, "--type", "T", "--data", "{not json", "--server", server.base_url)
    assert out.returncode != 0, out
    assert (out.stderr + out.stdout).strip(), "no message"
    assert_error(api.read(s), 404, "stream-not-found")


def test_cli_against_an_unreachable_server_fails_with_a_message():
    nowhere = f"http://127.0.0.1:{free_port()}"
    for args in (["append", "s", "--type", "T", "--data", "{}"], ["read", "s"]):
        started = time.monotonic()
        out = cli(*args, "--server", nowhere)
        assert out.returncode != 0, out
        assert (out.stderr + out.stdout).strip(), "no message"
        assert time.monotonic() - started < 20


def test_cli_read_prints_one_json_event_per_line(server, api):
    s = unique("cli")
    sent = [event("A", {"i": 0}), event("B", {"i": 1}), event("C", {"i": 2})]
    api.append_ok(s, sent)
    out = cli("read", s, "--server", server.base_url)
    assert out.returncode == 0, out
    lines = json_lines(out.stdout)
    assert [(e["eventId"], e["revision"], e["data"]) for e in lines] == [
        (x["eventId"], i, x["data"]) for i, x in enumerate(sent)
    ]
    assert lines == api.read_ok(s)["events"]


def test_cli_read_of_the_log_backwards_with_count_prints_the_newest_events_first(server, api):
    s = unique("cli")
    sent = events(5)
    api.append_ok(s, sent)
    out = cli("read", "$all", "--count", "3", "--backwards", "--server", server.base_url)
    assert out.returncode == 0, out
    lines = json_lines(out.stdout)
    assert [e["eventId"] for e in lines] == [e["eventId"] for e in reversed(sent[2:])]
    assert lines[0]["position"] > lines[1]["position"] > lines[2]["position"]


def test_cli_subscribe_prints_events_as_they_arrive(server, api):
    s = unique("cli")
    proc = subprocess.Popen(
        [sluice_bin(), "subscribe", s, "--server", server.base_url],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen = []
    try:
        # Whether it starts at the end or the beginning, once one probe is printed the
        # subscription is live.
        deadline = time.monotonic() + 15
        while not seen and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            api.append_ok(s, [event("Probe")])
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                pass
        assert seen, f"subscribe printed nothing (exit {proc.poll()}): {proc.stderr.read() if proc.poll() is not None else ''}"
        after = [event("After", {"i": i}) for i in range(3)]
        for e in after:
            api.append_ok(s, [e])
        deadline = time.monotonic() + 15
        while not all(any(e["eventId"] in line for line in seen) for e in after):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"events not printed within 15 s; printed: {seen}"
            try:
                seen.append(lines.get(timeout=remaining))
            except queue.Empty:
                pass
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    where = [next(i for i, line in enumerate(seen) if e["eventId"] in line) for e in after]
    assert where == sorted(where) and len(set(where)) == 3, seen
