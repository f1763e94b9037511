"""Joins a LiveKit room with the Python realtime SDK (`livekit.rtc`) and
publishes a microphone track fed with a sine tone, as a voice bot would.

    publish_tone.py --url ws://127.0.0.1:7880 --seconds 60 [--hz 440]

The token comes on the environment (LIVEKIT_TOKEN), never on the command line,
where `ps` would show it. Status goes to stdout as one JSON object a line:
  {"event": "connected", "room": ..., "identity": ..., "participant_sid": ...}
  {"event": "published", "track_sid": ...}
  {"event": "disconnected", "reason": ...}   (LiveKit or the network ended it)
  {"event": "done", "seconds": ...}
The script leaves the room and exits after --seconds, on SIGTERM, or when its
stdin closes (the test closes it to stop it, and a test process that dies
closes it too, so no bot outlives its test). Exit status 0 unless it failed.
"""

import argparse
import asyncio
import json
import math
import os
import signal
import sys
import time

import numpy as np
from livekit import rtc

SAMPLE_RATE = 48_000
FRAME_MS = 10
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
AMPLITUDE = 16_000  # about half of int16 full scale


def emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def feed_tone(source: rtc.AudioSource, hz: float) -> None:
    """10 ms frames of a continuous sine; capture_frame paces them to real time."""
    step = 2 * math.pi * hz / SAMPLE_RATE
    n = 0
    while True:
        phase = step * (n + np.arange(FRAME_SAMPLES))
        samples = (AMPLITUDE * np.sin(phase)).astype(np.int16)
        n += FRAME_SAMPLES
        await source.capture_frame(rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, FRAME_SAMPLES))


async def stdin_closed(loop: asyncio.AbstractEventLoop) -> None:
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(1024):
        pass


async def main(args: argparse.Namespace) -> int:
    token = os.environ.get("LIVEKIT_TOKEN")
    if not token:
        print("publish_tone: LIVEKIT_TOKEN is not set", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    watch_stdin = asyncio.create_task(stdin_closed(loop))
    watch_stdin.add_done_callback(lambda _: stop.set())

    started = time.monotonic()
    room = rtc.Room()

    @room.on("disconnected")
    def on_disconnected(reason) -> None:
        emit("disconnected", reason=rtc.DisconnectReason.Name(reason) if isinstance(reason, int) else str(reason))
        stop.set()

    await room.connect(args.url, token, rtc.RoomOptions(auto_subscribe=False))
    me = room.local_participant
    emit("connected", room=room.name, identity=me.identity, participant_sid=me.sid)

    source = rtc.AudioSource(SAMPLE_RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("tone", source)
    feeder = asyncio.create_task(feed_tone(source, args.hz))
    pub = await me.publish_track(track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
    emit("published", track_sid=pub.sid, hz=args.hz)

    try:
        await asyncio.wait_for(stop.wait(), timeout=args.seconds)
    except asyncio.TimeoutError:
        pass
    feeder.cancel()
    watch_stdin.cancel()
    await room.disconnect()
    await source.aclose()
    emit("done", seconds=round(time.monotonic() - started, 1))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="ws:// URL of LiveKit, the proxy or the tunnel")
    parser.add_argument("--seconds", type=float, default=60, help="leave after this long")
    parser.add_argument("--hz", type=float, default=440, help="frequency of the tone")
    code = asyncio.run(main(parser.parse_args()))
    sys.stdout.flush()
    sys.stderr.flush()
    # livekit 1.2.0's FFI runtime can abort the process while the interpreter finalizes (SIGABRT:
    # "panic in a function that cannot unwind" in a tokio worker), after everything above has run
    # and been reported; skip finalization so the exit status is this script's own.
    os._exit(code)
