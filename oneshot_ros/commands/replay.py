"""oneshot-ros replay: re-simulate a stored demonstration and write it as MP4 or GIF.

    oneshot-ros replay demos.h5 --index 0 --out demo.mp4 [--every 2]

The world is rebuilt from the file's world config, reset to the demo's (task, seed) and driven by
its stored executed actions; frames come from PyBullet's CPU renderer. The largest difference
between re-simulated and stored observations is printed (0 for the code that recorded it).
"""

from __future__ import annotations

from oneshot_ros.commands._args import check_video_path, positive_int
from oneshot_ros.errors import InputError


def add_arguments(parser):
    parser.add_argument("paths", nargs="+", help=".h5 file(s) or directories of shards")
    parser.add_argument("--index", type=int, default=0, help="demonstration index (see info)")
    parser.add_argument("--out", required=True, help="video file, .mp4 or .gif")
    parser.add_argument("--every", type=positive_int, default=2,
                        help="render every k-th control step")


def run(args) -> int:
    from oneshot_ros.data.storage import DemoReader
    from oneshot_ros.demos.replay import replay
    from oneshot_ros.utils.video import write_video

    check_video_path("--out", args.out)
    with DemoReader(args.paths) as reader:
        episode, world = reader[args.index], reader.world_config
    check_every(args.every, args.index, episode.length)
    frames: list = []
    error = replay(episode, world, every=args.every, on_frame=frames.append)
    fps = float(world.get("control_hz", 10.0)) / args.every
    write_video(frames, args.out, fps=fps)
    print(f"{args.out}: demo {args.index} ({episode.task!r}, seed {episode.seed}, "
          f"{episode.length} steps, {len(frames)} frames); max |obs - stored| = {error:.2e} m")
    return 0


def check_every(every: int, index: int, length: int) -> None:
    """More steps between frames than the demo holds leaves a video of ~0 frames per second,
    which the encoder cannot write: refuse it rather than guess a clamp."""
    if every > length:
        raise InputError(f"--every {every}: demo {index} has {length} steps; use 1..{length}")
