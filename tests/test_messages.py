"""What a kernel's messages mean for one execution, replayed from fake Jupyter messages."""

from __future__ import annotations

import json

import pytest
from jupyter_client.session import Session

from autograder.messages import (
    RESULT_MIME,
    Budget,
    Execution,
    Incoming,
    RunStatus,
    dropped,
    fold,
    parse,
)

SESSION = Session(key=b"")
REQUEST = "request-1"


def frames(kind: str, content: dict, parent: str = REQUEST) -> list[bytes]:
    """A message as ipykernel puts it on iopub: topic, delimiter, signature, four JSON parts."""
    msg = SESSION.msg(kind, content, parent={"msg_id": parent} if parent else {})
    return [f"kernel.x.{kind}".encode(), *SESSION.serialize(msg)]


def replay(messages: list[list[bytes]], *, cap: int = 1000, budget: Budget | None = None) \
        -> tuple[Execution, bool]:
    budget = budget or Budget()
    run = Execution(RunStatus.OK)
    done = False
    for message in messages:
        msg = parse(message, budget)
        if isinstance(msg, str):
            dropped(run)
        elif fold(run, msg, request=REQUEST, cap=cap, budget=budget):
            done = True
            break
    return run.finish(0.0), done


def idle(parent: str = REQUEST) -> list[bytes]:
    return frames("status", {"execution_state": "idle"}, parent)


def test_output_is_gathered_until_idle_and_capped():
    run, done = replay([frames("stream", {"name": "stdout", "text": "a" * 600}),
                        frames("execute_result", {"data": {"text/plain": "42"}}),
                        frames("stream", {"name": "stdout", "text": "b" * 600}),
                        idle(),
                        frames("stream", {"name": "stdout", "text": "after idle"})])
    assert done and run.status == RunStatus.OK
    assert run.output == "a" * 600 + "42\n" + "b" * 397 and run.truncated
    assert run.output_chars == 1203


def test_messages_of_another_request_are_ignored():
    run, done = replay([frames("stream", {"name": "stdout", "text": "old"}, parent="request-0"),
                        idle("request-0"),
                        frames("error", {"ename": "X", "evalue": "", "traceback": []}, "")])
    assert not done and run.output == "" and run.status == RunStatus.OK


def test_an_error_keeps_its_type_message_and_a_traceback_without_colours():
    run, _ = replay([frames("error", {"ename": "ValueError", "evalue": "bad shape",
                                      "traceback": ["\x1b[0;31mValueError\x1b[0m: bad shape"]}),
                     idle()])
    assert (run.status, run.ename, run.evalue) == (RunStatus.ERROR, "ValueError", "bad shape")
    assert run.traceback == "ValueError: bad shape"


def test_result_payloads_are_kept_apart_from_output_within_their_budget():
    answer = {"nonce": "n1", "value": {"t": "float", "v": "1.5"}}
    run, _ = replay([frames("display_data", {"data": {RESULT_MIME: answer}})] * 20 + [idle()])
    assert run.payloads == [answer] * 16 and run.dropped == 4 and run.output == ""
    size = len(b"".join(frames("display_data", {"data": {RESULT_MIME: answer}})))
    run, _ = replay([frames("display_data", {"data": {RESULT_MIME: answer}})] * 3 + [idle()],
                    budget=Budget(payload_bytes=2 * size))
    assert len(run.payloads) == 2 and run.dropped == 1


def test_millions_of_json_items_are_refused_before_parsing():
    # display({RESULT_MIME: [[]] * 8_000_000}, raw=True): 32 MB that would parse into 8 million
    # lists (half a gigabyte); refused by counting, never parsed.
    content = json.dumps({"data": {RESULT_MIME: [[]] * 8_000_000}}).encode()
    message = frames("display_data", {})
    message[-1] = content
    reason = parse(message, Budget())
    assert isinstance(reason, str) and "16000002 JSON items" in reason
    run, _ = replay([message, idle()])
    assert run.dropped == 1 and run.truncated and run.payloads == []


def test_big_text_that_is_not_ascii_is_refused_before_parsing():
    text = "\U0001F600" * (5 * 2**20)  # 20 MB of UTF-8, 20 MB again as a Python string
    message = frames("stream", {"name": "stdout", "text": text})
    assert "not plain ASCII" in parse(message, Budget())
    assert isinstance(parse(message, Budget(text_bytes=64 * 2**20)), Incoming)


@pytest.mark.parametrize("broken", [
    [b"no delimiter", b"{}"],
    [b"<IDS|MSG>", b"sig", b"{}"],
    [b"<IDS|MSG>", b"sig", b"[1]", b"{}", b"{}", b"{}"],
    [b"<IDS|MSG>", b"sig", b"{", b"{}", b"{}", b"{}"],
    [b"<IDS|MSG>", b"sig", b"{" + b" " * 70_000 + b"}", b"{}", b"{}", b"{}"],
])
def test_malformed_messages_are_dropped_not_raised(broken):
    assert isinstance(parse(broken, Budget()), str)

