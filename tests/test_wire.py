"""The kernel's wire read by hand: ZMTP frames under a byte budget, fed as bytes (no socket)."""

from __future__ import annotations

import pytest

from autograder import wire

MB = 2**20
PEER = wire.GREETING + wire.ready(b"PUB")


def feed_in_chunks(reader: wire.FrameReader, data: bytes, chunk: int) -> tuple[list, int]:
    """Feed `data` as a socket would deliver it; return the events and the most ever held."""
    events, held = [], 0
    for at in range(0, len(data), chunk):
        events += reader.feed(data[at:at + chunk])
        held = max(held, reader.held)
    return events, held


def test_messages_come_out_whole_whatever_the_chunking():
    stream = PEER + wire.multipart([b"topic", b"<IDS|MSG>", b"x" * 300]) + wire.multipart([b"a"])
    for chunk in (1, 7, 64, len(stream)):
        events, _ = feed_in_chunks(wire.FrameReader(MB), stream, chunk)
        assert events[0] == wire.Command(b"READY", wire.ready(b"PUB")[8:])
        assert [e.frames for e in events[1:]] == [[b"topic", b"<IDS|MSG>", b"x" * 300], [b"a"]]


def test_a_3_mb_frame_against_a_1_mb_budget_is_skipped_as_it_arrives_and_never_held():
    big = wire.multipart([b"<IDS|MSG>", b"y" * (3 * MB)])
    after = wire.multipart([b"<IDS|MSG>", b"small"])
    reader = wire.FrameReader(MB)
    events, held = feed_in_chunks(reader, PEER + big + after, 64 * 1024)
    dropped = [e for e in events if isinstance(e, wire.Dropped)]
    assert len(dropped) == 1 and dropped[0].size >= 3 * MB and "bytes" in dropped[0].reason
    assert held <= MB  # the grader never had the 3 MB in hand
    assert events[-1] == wire.Message([b"<IDS|MSG>", b"small"])  # the stream goes on
    assert reader.received == len(PEER + big + after)


def test_ten_thousand_small_frames_in_one_message_are_dropped_without_being_kept():
    # Built from one buffer on the kernel's side: 10,000 frames of 64 kB, 640 MB on the wire.
    frame = wire.frame(b"z" * 65536, more=True)
    head = PEER + wire.frame(b"<IDS|MSG>", more=True)
    reader = wire.FrameReader(64 * MB, frames=64)
    events, held = feed_in_chunks(reader, head, 4096)
    for _ in range(10_000):
        events += reader.feed(frame)
        held = max(held, reader.held)
    events += reader.feed(wire.frame(b"last"))
    assert held <= 64 * 65536 + 9
    assert [type(e) for e in events] == [wire.Command, wire.Dropped]
    assert "frames" in events[-1].reason


def test_a_frame_announcing_terabytes_costs_nothing_until_its_bytes_come():
    reader = wire.FrameReader(MB)
    huge = bytes([wire._LONG]) + (2**40).to_bytes(8, "big")
    assert reader.feed(PEER + huge + b"x" * 1000)[1:] == []
    assert reader.held == 0


def test_a_peer_that_is_not_zmtp_or_sends_huge_commands_is_refused():
    with pytest.raises(wire.WireError):
        wire.FrameReader(MB).feed(b"GET / HTTP/1.1\r\n" * 8)
    command = bytes([wire._COMMAND | wire._LONG]) + (10 * MB).to_bytes(8, "big")
    with pytest.raises(wire.WireError):
        wire.FrameReader(MB).feed(PEER + command)
