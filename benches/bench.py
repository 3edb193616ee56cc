#!/usr/bin/env python3
"""snatch against the tools people use today, on loopback.

Called by benches/run.sh (which builds the binaries first); see
benches/README.md. Standard library only.

Scenarios (ids for --only):
  a-50ms   set A (300 x 4 s, ~1 MB each) from segment-server, 50 ms latency
  b-50ms   set B (2,000 x 1 s, ~50 KB each) from segment-server, 50 ms latency
  a-nginx  set A from nginx, no added latency
  b-nginx  set B from nginx, no added latency
  playlist set P (300 x 4 s, an HLS playlist made by ffmpeg -f hls) from
           segment-server, 50 ms latency: snatch's `playlist:` job against
           yt-dlp and ffmpeg reading the same playlist
  batch    20 jobs x 30 segments of set A's files (~1.1 MB each) at once, 50 ms
           latency, 16 connections in all: snatch with one job file against
           yt-dlp (4 at a time, -N 4), ffmpeg (16 at a time) and aria2c (one
           list, then ffmpeg concat per job); wall time and CPU seconds with
           children
  dash     set D (300 x 4 s of video, ~1 MB each, and the audio beside it in
           its own adaptation set: fMP4 DASH made by ffmpeg -f dash) from
           segment-server, 50 ms latency: snatch's `playlist:` job of the
           MPD against yt-dlp and ffmpeg reading the same MPD
  rate     snatch alone, per_host 20 requests/s over set A at 50 ms
  rss      snatch's peak RSS for 300 and 3,000 segments of ~1 MB, and for
           one 250 MB segment clear and AES-128 encrypted
  cli      `snatch validate` and `snatch plan` of a 5,000-job file
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import fcntl
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"
MEDIA = TARGET / "bench-media"
RESULTS = TARGET / "bench-results.md"

SCENARIOS = ["a-50ms", "b-50ms", "playlist", "dash", "batch", "a-nginx", "b-nginx", "rate", "bytes", "rss", "cli"]
PEERS = ["curl", "aria2c", "yt-dlp", "ffmpeg-hls"]
REFERER = "http://127.0.0.1/watch?v=bench"
CONNECTIONS = 16
RSS_LIMIT_MIB = 64.0
PLAYLIST_SEGMENTS = 500_000
PLAYLIST_RSS_LIMIT_MIB = 256.0
TOOL_TIMEOUT_S = 900
# The DASH scenario's target: snatch's median at most this times yt-dlp's.
DASH_FACTOR = 0.35


# --------------------------------------------------------------------------
# output: everything printed also goes to target/bench-results.md


class Out:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "w", encoding="utf-8", buffering=1)

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.f.write(line + "\n")


out: Out


def progress(line: str) -> None:
    out(f"    {line}")


def load_line() -> None:
    """The machine may be shared: each scenario says how busy it was when it began."""
    out(f"Load average (1, 5, 15 min) at the start of this scenario: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}.")


# --------------------------------------------------------------------------
# processes we start: tracked by pid, killed by pid


PIDFILE = os.environ.get("BENCH_PIDFILE")
_started: list[subprocess.Popen] = []


def track(p: subprocess.Popen) -> subprocess.Popen:
    _started.append(p)
    if PIDFILE:
        with open(PIDFILE, "a") as f:
            f.write(f"{p.pid}\n")
    return p


def stop(p: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if p.poll() is None:
        try:
            # Every process we start leads its own session; signal that group
            # (by its id) so children such as nginx workers go too.
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def stop_all() -> None:
    for p in reversed(_started):
        stop(p)


def run_cmd(cmd, cwd=None, timeout=TOOL_TIMEOUT_S, env=None):
    """Runs cmd in its own session; returns (returncode, stdout, stderr, seconds)."""
    t0 = time.monotonic()
    p = track(
        subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    )
    try:
        so, se = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(p, signal.SIGKILL)
        return None, "", f"timed out after {timeout} s", time.monotonic() - t0
    elapsed = time.monotonic() - t0
    return p.returncode, so.decode(errors="replace"), se.decode(errors="replace"), elapsed


def last_line(s: str) -> str:
    lines = [l.strip() for l in s.strip().splitlines() if l.strip()]
    return lines[-1][:200] if lines else ""


# --------------------------------------------------------------------------
# media


@dataclass
class MediaSet:
    key: str
    count: int
    seg_s: int
    v_kbit: int
    a_kbit: int
    # Made by ffmpeg's HLS muxer (`-f hls`), as a site would publish it,
    # rather than by the segment muxer.
    hls: bool = False
    # Segments a run fetches when fewer than `count` (the `bytes` scenario).
    fetched: int = 0
    # Made by ffmpeg's DASH muxer (`-f dash`): fMP4 video and audio
    # representations in two adaptation sets, `manifest.mpd`.
    dash: bool = False

    @property
    def dir(self) -> Path:
        return MEDIA / f"{self.key}-{self.count}x{self.seg_s}s"

    @property
    def rel(self) -> str:
        return self.dir.name

    @property
    def expected_s(self) -> float:
        return float((self.fetched or self.count) * self.seg_s)

    def with_count(self, n: int) -> "MediaSet":
        """The same set, of which a run fetches the first `n` segments."""
        return dataclasses.replace(self, fetched=n)

    def avg_bytes(self) -> float:
        sizes = [p.stat().st_size for p in self.dir.glob("*.ts")]
        return sum(sizes) / len(sizes)

    @property
    def requests(self) -> int:
        """Segment requests of a whole download: a DASH set's audio is fetched
        beside its video."""
        return self.count * (2 if self.dash else 1)

    @property
    def manifest(self) -> str:
        """The playlist or MPD every reader of the set fetches first."""
        return DASH_MPD if self.dash else "index.m3u8"

    def describe(self) -> str:
        if self.dash:
            video = [p.stat().st_size for p in self.dir.glob("chunk-0-*.m4s")]
            audio = [p.stat().st_size for p in self.dir.glob("chunk-1-*.m4s")]
            return (
                f"set {self.key}: {len(video)} video segments x {self.seg_s} s, mean "
                f"{sum(video) / len(video) / 1e3:.0f} kB, and {len(audio)} audio segments, mean "
                f"{sum(audio) / len(audio) / 1e3:.0f} kB; total {(sum(video) + sum(audio)) / 1e6:.0f} MB "
                f"({self.dir.relative_to(ROOT)}/{DASH_MPD})"
            )
        sizes = [p.stat().st_size for p in self.dir.glob("*.ts")]
        mean = sum(sizes) / len(sizes) / 1e3
        return (
            f"set {self.key}: {self.count} segments x {self.seg_s} s, "
            f"mean {mean:.0f} kB, total {sum(sizes) / 1e6:.0f} MB ({self.dir.relative_to(ROOT)})"
        )


DASH_MPD = "manifest.mpd"


def make_set(ms: MediaSet) -> None:
    stamp = ms.dir / ".complete"
    # (`hls` and `dash` are left out when false, so that sets cached before
    # they existed stay valid.)
    params = json.dumps({k: v for k, v in ms.__dict__.items() if k not in ("hls", "dash") or v},
                        sort_keys=True)
    if stamp.exists() and stamp.read_text() == params:
        return
    if ms.dir.exists():
        shutil.rmtree(ms.dir)
    ms.dir.mkdir(parents=True)
    fps = 10
    out(f"  generating {ms.dir.relative_to(ROOT)} with ffmpeg (cached for later runs) ...")
    t0 = time.monotonic()
    # The content does not matter, sizes and durations do: a small, cheap
    # picture at a constant bit rate (x264 pads with filler data to hold it),
    # a keyframe at every segment boundary.
    cmd = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate={fps}",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-t", str(ms.count * ms.seg_s),
        "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "ultrafast",
        "-b:v", f"{ms.v_kbit}k", "-minrate", f"{ms.v_kbit}k",
        "-maxrate", f"{ms.v_kbit}k", "-bufsize", f"{ms.v_kbit}k",
        "-x264-params", "nal-hrd=cbr:force-cfr=1",
        "-g", str(fps * ms.seg_s), "-keyint_min", str(fps * ms.seg_s), "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", f"{ms.a_kbit}k",
    ]
    if ms.dash:
        cmd += dash_options(ms)
    elif ms.hls:
        # A VOD media playlist with relative URIs, as ffmpeg's HLS muxer
        # writes it; segments numbered from 1 like the other sets.
        cmd += [
            "-f", "hls", "-hls_time", str(ms.seg_s), "-hls_playlist_type", "vod",
            "-hls_segment_type", "mpegts", "-start_number", "1",
            "-hls_segment_filename", "%06d.ts", "index.m3u8",
        ]
    else:
        cmd += [
            "-f", "segment", "-segment_time", str(ms.seg_s), "-segment_format", "mpegts",
            "-segment_start_number", "1",
            "-segment_list", "index.m3u8", "-segment_list_type", "m3u8",
            "%06d.ts",
        ]
    rc, _, err, _ = run_cmd(cmd, cwd=ms.dir, timeout=3600)
    if rc != 0:
        sys.exit(f"ffmpeg could not make {ms.dir}: {last_line(err)}")
    if ms.dash:
        check_dash(ms)
        stamp.write_text(params)
        out(f"  ... done in {time.monotonic() - t0:.0f} s")
        return
    n = len(list(ms.dir.glob("*.ts")))
    playlist = (ms.dir / "index.m3u8").read_text()
    if n != ms.count or playlist.count("#EXTINF") != ms.count or "#EXT-X-ENDLIST" not in playlist:
        sys.exit(f"{ms.dir}: expected {ms.count} segments and a complete playlist, got {n}")
    stamp.write_text(params)
    out(f"  ... done in {time.monotonic() - t0:.0f} s")


def dash_options(ms: MediaSet) -> list[str]:
    """A static MPD as ffmpeg's DASH muxer writes it for on-demand content:
    SegmentTemplate with a SegmentTimeline, $Number$ names, the video
    (representation 0) and the audio (1) in adaptation sets of their own."""
    return [
        "-f", "dash", "-seg_duration", str(ms.seg_s), "-use_template", "1", "-use_timeline", "1",
        "-adaptation_sets", "id=0,streams=v id=1,streams=a",
        "-init_seg_name", "init-$RepresentationID$.m4s",
        "-media_seg_name", "chunk-$RepresentationID$-$Number%06d$.m4s",
        DASH_MPD,
    ]


def check_dash(ms: MediaSet) -> None:
    """ffmpeg made one video segment per seg_s seconds and a static MPD."""
    video = len(list(ms.dir.glob("chunk-0-*.m4s")))
    audio = len(list(ms.dir.glob("chunk-1-*.m4s")))
    mpd = (ms.dir / DASH_MPD).read_text()
    if video != ms.count or not audio or 'type="static"' not in mpd or "<SegmentTimeline>" not in mpd:
        sys.exit(f"{ms.dir}: expected {ms.count} video segments, audio segments and a static "
                 f"MPD with a SegmentTimeline, got {video} and {audio}")


def make_repeat_tree(src: MediaSet, times: int) -> Path:
    """A folder of src.count*times symlinks, 000001.ts ..., cycling over src's files."""
    d = MEDIA / f"{src.rel}-x{times}"
    total = src.count * times
    stamp = d / ".complete"
    if stamp.exists() and stamp.read_text() == str(total):
        return d
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for i in range(total):
        os.symlink(f"../{src.rel}/{i % src.count + 1:06d}.ts", d / f"{i + 1:06d}.ts")
    stamp.write_text(str(total))
    return d


AES_MB = 250
# Run-to-run noise of snatch's peak (see the README: 10 MiB and more).
AES_SLACK_MIB = 16.0
AES_KEY = "000102030405060708090a0b0c0d0e0f"
AES_IV = "f0e1d2c3b4a5968778695a4b3c2d1e0f"


def make_aes_segment(src: MediaSet) -> Path | None:
    """One ~250 MB TS segment twice under MEDIA/aes-250MB/: clear/ and aes/
    (AES-128-CBC by `openssl enc`, its key in aes/key.bin), each with an
    index.m3u8 naming only it. Made from src's segments, concatenated and
    looped to size by remuxing (ffmpeg -stream_loop -fs, no encoding);
    None when openssl is missing."""
    d = MEDIA / f"aes-{AES_MB}MB"
    params = json.dumps({"src": src.rel, "mb": AES_MB, "key": AES_KEY, "iv": AES_IV})
    stamp = d / ".complete"
    if stamp.exists() and stamp.read_text() == params:
        return d
    if not shutil.which("openssl"):
        return None
    if d.exists():
        shutil.rmtree(d)
    (d / "clear").mkdir(parents=True)
    (d / "aes").mkdir()
    out(f"  generating {d.relative_to(ROOT)} (remux and openssl, cached for later runs) ...")
    once = d / "once.ts"
    with open(once, "wb") as f:
        for i in range(1, src.count + 1):
            f.write((src.dir / f"{i:06d}.ts").read_bytes())
    clear = d / "clear" / "big.ts"
    steps = [
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-stream_loop", "-1",
         "-i", str(once), "-c", "copy", "-fs", str(AES_MB * 1_000_000), "-f", "mpegts", str(clear)],
        ["openssl", "enc", "-aes-128-cbc", "-K", AES_KEY, "-iv", AES_IV,
         "-in", str(clear), "-out", str(d / "aes" / "big.ts")],
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(clear)],
    ]
    for cmd in steps:
        rc, so, se, _ = run_cmd(cmd, timeout=600)
        if rc != 0:
            sys.exit(f"{cmd[0]} could not make {d}: {last_line(se)}")
    once.unlink()
    secs = float(so.strip())
    (d / "aes" / "key.bin").write_bytes(bytes.fromhex(AES_KEY))
    for kind, key in (("clear", ""), ("aes", f'#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x{AES_IV}\n')):
        (d / kind / "index.m3u8").write_text(
            f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{int(secs) + 1}\n"
            f"#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n{key}#EXTINF:{secs:.6f},\n"
            f"big.ts\n#EXT-X-ENDLIST\n")
    stamp.write_text(params)
    return d


# --------------------------------------------------------------------------
# servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_segment_server(binary: Path, root: Path, latency_ms: int) -> tuple[subprocess.Popen, str]:
    p = track(
        subprocess.Popen(
            [str(binary), "--root", str(root), "--latency-ms", str(latency_ms), "--bind", "127.0.0.1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
        )
    )
    line = p.stdout.readline().strip()
    m = re.match(r"listening on (http://127\.0\.0\.\d+:\d+)", line)
    if not m:
        stop(p)
        sys.exit(f"segment-server did not start: {line!r}")
    return p, m.group(1)


def start_nginx(root: Path, work: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    prefix = work / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]:
        (prefix / t).mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""\
daemon off;
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ video/mp2t ts; application/vnd.apple.mpegurl m3u8; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
""")
    p = track(
        subprocess.Popen(
            ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        if p.poll() is not None:
            sys.exit(f"nginx exited: {p.stderr.read().decode(errors='replace').strip()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return p, url
        except OSError:
            time.sleep(0.05)
    stop(p)
    sys.exit("nginx did not start listening")


# --------------------------------------------------------------------------
# checking an output


def probe(path: Path, expected_s: float) -> tuple[bool, str]:
    if not path.is_file():
        return False, f"no output {path.name}"
    rc, so, se, _ = run_cmd(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type",
         "-of", "json", str(path)],
        timeout=120,
    )
    if rc != 0:
        return False, f"ffprobe: {last_line(se)}"
    info = json.loads(so)
    kinds = {s.get("codec_type") for s in info.get("streams", [])}
    try:
        dur = float(info.get("format", {}).get("duration"))
    except (TypeError, ValueError):
        return False, "no duration"
    if not {"video", "audio"} <= kinds:
        return False, f"streams {sorted(k for k in kinds if k)}, want video+audio"
    if abs(dur - expected_s) > 0.02 * expected_s:
        return False, f"duration {dur:.1f} s, expected {expected_s:.0f} s ±2 %"
    return True, f"{dur:.1f} s"


# --------------------------------------------------------------------------
# the tools


@dataclass
class Ctx:
    snatch: Path
    base_url: str  # http://127.0.0.1:PORT
    media: MediaSet
    run_dir: Path

    def seg_url(self, i: int) -> str:
        return f"{self.base_url}/{self.media.rel}/{i:06d}.ts"

    @property
    def playlist(self) -> str:
        """The set's HLS playlist, or its MPD for a DASH set."""
        return f"{self.base_url}/{self.media.rel}/{self.media.manifest}"


@dataclass
class Attempt:
    ok: bool
    seconds: float
    note: str = ""
    phases: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def snatch_job(ctx: Ctx, count: int, rel: str, rps: float | None = None) -> Path:
    limit = f"{{ concurrency: {CONNECTIONS}" + (f", requests_per_second: {rps:g}" if rps else "") + " }"
    job = ctx.run_dir / "job.yaml"
    job.write_text(f"""\
version: 1
limits:
  per_host: {limit}
jobs:
  - name: bench
    url: "{ctx.base_url}/{rel}/{{{{index}}}}.ts"
    padding: 6
    range: {{ start: 1, end: {count} }}
    concurrency: {CONNECTIONS}
    headers:
      Referer: "{REFERER}"
    output: bench.mp4
    output_dir: out
""")
    return job


def merge_tail(report: Path, stderr: str) -> float | None:
    try:
        job = json.loads(report.read_text())["jobs"][0]
        for k, scale in (("merge_tail_s", 1.0), ("merge_tail_ms", 1e-3)):
            if job.get(k) is not None:
                return float(job[k]) * scale
    except (OSError, ValueError, KeyError, IndexError):
        pass
    clean = re.sub(r"\x1b\[[0-9;]*m", "", stderr)
    m = re.search(r"merge_tail_(ms|s)=([0-9.]+)", clean)
    if m:
        return float(m.group(2)) * (1e-3 if m.group(1) == "ms" else 1.0)
    return None


def snatch_playlist_job(ctx: Ctx) -> Path:
    """The same download as a `playlist:` job: snatch reads index.m3u8 itself."""
    job = ctx.run_dir / "job.yaml"
    job.write_text(f"""\
version: 1
limits:
  per_host: {{ concurrency: {CONNECTIONS} }}
jobs:
  - name: bench
    playlist: "{ctx.playlist}"
    concurrency: {CONNECTIONS}
    headers:
      Referer: "{REFERER}"
    output: bench.mp4
    output_dir: out
""")
    return job


def playlist_job(d: Path, url: str) -> Path:
    """A `playlist:` job of url with snatch's defaults."""
    job = d / "job.yaml"
    job.write_text(f"""\
version: 1
jobs:
  - name: bench
    playlist: "{url}"
    output: bench.mp4
    output_dir: out
""")
    return job


def run_snatch_playlist(ctx: Ctx) -> Attempt:
    return run_snatch(ctx, job=snatch_playlist_job(ctx))


def run_snatch(ctx: Ctx, rps: float | None = None, job: Path | None = None) -> Attempt:
    if job is None:
        job = snatch_job(ctx, ctx.media.count, ctx.media.rel, rps)
    report = ctx.run_dir / "report.json"
    rc, _, se, secs = run_cmd(
        [str(ctx.snatch), "run", str(job), "-v", "--report", str(report)],
        cwd=ctx.run_dir, env={**os.environ, "NO_COLOR": "1"},
    )
    if rc != 0:
        return Attempt(False, secs, f"exit {rc}: {job_error(report) or last_line(se)}")
    ok, note = probe(ctx.run_dir / "out" / "bench.mp4", ctx.media.expected_s)
    extra = {}
    tail = merge_tail(report, se)
    if tail is not None:
        extra["merge_tail_s"] = tail
    try:
        extra["internal_s"] = float(json.loads(report.read_text())["elapsed_s"])
    except (OSError, ValueError, KeyError):
        pass
    return Attempt(ok, secs, note, extra=extra)


def job_error(report: Path) -> str:
    """The first failed job's message in snatch's report (why it failed,
    where stderr's last line is only the run's summary); "" when none."""
    try:
        for job in json.loads(report.read_text())["jobs"]:
            if job.get("error"):
                msg = " ".join(str(job["error"]).split())
                return msg if len(msg) <= 400 else msg[:399] + "…"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return ""


def concat_merge(ctx: Ctx, seg_dir: Path) -> tuple[int | None, str, float]:
    lst = ctx.run_dir / "list.txt"
    lst.write_text("".join(f"file '{seg_dir / f'{i:06d}.ts'}'\n" for i in range(1, ctx.media.count + 1)))
    rc, _, se, secs = run_cmd(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "concat", "-safe", "0", "-i", str(lst), "-c", "copy", "-bsf:a", "aac_adtstoasc",
         str(ctx.run_dir / "out.mp4")],
        cwd=ctx.run_dir,
    )
    return rc, se, secs


def run_curl(ctx: Ctx) -> Attempt:
    segs = ctx.run_dir / "segs"
    segs.mkdir()
    n = ctx.media.count
    rc, _, se, dl = run_cmd(
        ["curl", "--parallel", "--parallel-max", str(CONNECTIONS), "-sS", "--fail",
         "-H", f"Referer: {REFERER}", "-o", f"{segs}/#1.ts",
         f"{ctx.base_url}/{ctx.media.rel}/[000001-{n:06d}].ts"],
        cwd=ctx.run_dir,
    )
    if rc != 0:
        return Attempt(False, dl, f"curl exit {rc}: {last_line(se)}")
    rc, se, mg = concat_merge(ctx, segs)
    if rc != 0:
        return Attempt(False, dl + mg, f"ffmpeg concat exit {rc}: {last_line(se)}")
    ok, note = probe(ctx.run_dir / "out.mp4", ctx.media.expected_s)
    return Attempt(ok, dl + mg, note, phases={"download": dl, "merge": mg})


def run_aria2c(ctx: Ctx) -> Attempt:
    segs = ctx.run_dir / "segs"
    segs.mkdir()
    urls = ctx.run_dir / "urls.txt"
    urls.write_text("".join(ctx.seg_url(i) + "\n" for i in range(1, ctx.media.count + 1)))
    rc, so, se, dl = run_cmd(
        ["aria2c", "-j", str(CONNECTIONS), "-x", "1", "--header", f"Referer: {REFERER}",
         "-i", str(urls), "-d", str(segs),
         "--console-log-level=error", "--summary-interval=0", "--download-result=hide",
         "--show-console-readout=false"],
        cwd=ctx.run_dir,
    )
    if rc != 0:
        return Attempt(False, dl, f"aria2c exit {rc}: {last_line(se or so)}")
    rc, se, mg = concat_merge(ctx, segs)
    if rc != 0:
        return Attempt(False, dl + mg, f"ffmpeg concat exit {rc}: {last_line(se)}")
    ok, note = probe(ctx.run_dir / "out.mp4", ctx.media.expected_s)
    return Attempt(ok, dl + mg, note, phases={"download": dl, "merge": mg})


def run_ytdlp(ctx: Ctx) -> Attempt:
    d = ctx.run_dir / "yt"
    d.mkdir()
    rc, so, se, secs = run_cmd(
        ["yt-dlp", "--ignore-config", "--no-cache-dir", "--no-progress",
         "--hls-prefer-native", "-N", str(CONNECTIONS),
         "--add-header", f"Referer:{REFERER}", "-o", "out.mp4", ctx.playlist],
        cwd=d,
    )
    if rc != 0:
        return Attempt(False, secs, f"yt-dlp exit {rc}: {last_line(se or so)}")
    left = sorted(p.name for p in d.iterdir())
    if left != ["out.mp4"]:
        return Attempt(False, secs, f"left {left}, want exactly out.mp4")
    ok, note = probe(d / "out.mp4", ctx.media.expected_s)
    return Attempt(ok, secs, note)


def run_ffmpeg_hls(ctx: Ctx) -> Attempt:
    rc, _, se, secs = run_cmd(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-headers", f"Referer: {REFERER}\r\n", "-i", ctx.playlist,
         "-c", "copy", "-bsf:a", "aac_adtstoasc", str(ctx.run_dir / "out.mp4")],
        cwd=ctx.run_dir,
    )
    if rc != 0:
        return Attempt(False, secs, f"ffmpeg exit {rc}: {last_line(se)}")
    ok, note = probe(ctx.run_dir / "out.mp4", ctx.media.expected_s)
    return Attempt(ok, secs, note)


def run_ffmpeg_dash(ctx: Ctx) -> Attempt:
    """ffmpeg's DASH demuxer on the MPD, its default streams (the video and
    the audio) copied into one MP4."""
    rc, _, se, secs = run_cmd(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-headers", f"Referer: {REFERER}\r\n", "-i", ctx.playlist,
         "-c", "copy", str(ctx.run_dir / "out.mp4")],
        cwd=ctx.run_dir,
    )
    if rc != 0:
        return Attempt(False, secs, f"ffmpeg exit {rc}: {last_line(se)}")
    ok, note = probe(ctx.run_dir / "out.mp4", ctx.media.expected_s)
    return Attempt(ok, secs, note)


RUNNERS = {
    "snatch": run_snatch,
    "curl": run_curl,
    "aria2c": run_aria2c,
    "yt-dlp": run_ytdlp,
    "ffmpeg-hls": run_ffmpeg_hls,
}

LABELS = {
    "snatch": "snatch (16 conns, merges while fetching)",
    "curl": "curl --parallel 16 + ffmpeg concat",
    "aria2c": "aria2c -j 16 + ffmpeg concat",
    "yt-dlp": "yt-dlp -N 16 (native HLS)",
    "ffmpeg-hls": "ffmpeg -i index.m3u8 (sequential)",
}

PEER_BINARY = {"curl": "curl", "aria2c": "aria2c", "yt-dlp": "yt-dlp", "ffmpeg-hls": "ffmpeg"}

# The playlist scenario: every tool reads the same index.m3u8 (curl and aria2c
# have no playlist reader, so they sit it out).
PLAYLIST_TOOLS = ["snatch", "snatch-base", "yt-dlp", "ffmpeg-hls"]
PLAYLIST_RUNNERS = {**RUNNERS, "snatch": run_snatch_playlist}
PLAYLIST_LABELS = {**LABELS, "snatch": "snatch `playlist:` job (16 conns, merges while fetching)"}

# `--baseline BIN`: another snatch binary (an earlier commit's) timed as a
# tool of its own in the same rounds, so a change is measured side by side
# with what it replaces. It is never a peer in the targets.
BASELINE: dict = {}
OWN = ("snatch", "snatch-base")


def with_baseline(run):
    def run_base(ctx: Ctx) -> Attempt:
        return run(Ctx(BASELINE["bin"], ctx.base_url, ctx.media, ctx.run_dir))
    return run_base


RUNNERS["snatch-base"] = with_baseline(run_snatch)
PLAYLIST_RUNNERS["snatch-base"] = with_baseline(run_snatch_playlist)
LABELS["snatch-base"] = PLAYLIST_LABELS["snatch-base"] = "snatch --baseline (same job, earlier binary)"

# The DASH scenario: every tool reads the same manifest.mpd. snatch runs
# the `playlist:` job with the MPD's URL; yt-dlp (generic extractor) fetches
# the video and audio representations and merges them with ffmpeg; ffmpeg's
# DASH demuxer reads both one segment at a time.
DASH_TOOLS = ["snatch", "snatch-base", "yt-dlp", "ffmpeg-dash"]
DASH_RUNNERS = {**PLAYLIST_RUNNERS, "ffmpeg-dash": run_ffmpeg_dash}
DASH_LABELS = {
    **PLAYLIST_LABELS,
    "snatch": "snatch `playlist:` job of the MPD (16 conns, merges while fetching)",
    "yt-dlp": "yt-dlp -N 16 (native DASH, video + audio merged)",
    "ffmpeg-dash": "ffmpeg -i manifest.mpd -c copy (sequential)",
}


# --------------------------------------------------------------------------
# batch: many jobs at once, wall time and CPU seconds (children included)
#
# CPU is read as resource.getrusage(RUSAGE_CHILDREN) before and after a
# tool's whole batch: it counts every process the bench waited for and
# every descendant those waited for in turn (snatch's ffmpeg and ffprobe).
# The bench makes itself a child subreaper, so a grandchild whose parent
# exited without waiting for it comes back to the bench and is waited for
# (and counted) before the figure is read. Nothing else is waited for in
# that window: the segment server lives on, outputs are probed afterwards.

BATCH_JOBS = 20
BATCH_YTDLP_AT_ONCE = 4
BATCH_YTDLP_N = 4
BATCH_FFMPEG_AT_ONCE = CONNECTIONS
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap_orphans() -> None:
    """Waits for adopted grandchildren that have exited (counted in RUSAGE_CHILDREN)."""
    tracked = {p.pid for p in _started if p.returncode is None}
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in tracked:  # one of ours ended on its own: let Popen know
            for p in _started:
                if p.pid == pid:
                    p.returncode = -1


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def make_batch_tree(src: "MediaSet") -> Path:
    """BATCH_JOBS folders j01 … of symlinks to src's segments and playlist:
    each job its own URLs, the same bytes."""
    d = MEDIA / f"batch-{src.rel}"
    stamp = d / ".complete"
    if stamp.exists() and stamp.read_text() == str(BATCH_JOBS):
        return d
    if d.exists():
        shutil.rmtree(d)
    for j in range(1, BATCH_JOBS + 1):
        jd = d / f"j{j:02d}"
        jd.mkdir(parents=True)
        for i in range(1, src.count + 1):
            os.symlink(f"../../{src.rel}/{i:06d}.ts", jd / f"{i:06d}.ts")
        os.symlink(f"../../{src.rel}/index.m3u8", jd / "index.m3u8")
    stamp.write_text(str(BATCH_JOBS))
    return d


@dataclass
class BatchCtx:
    snatch: Path
    base_url: str
    media: MediaSet
    tree: str  # the batch folder's name below MEDIA
    run_dir: Path

    def job_url(self, j: int) -> str:
        return f"{self.base_url}/{self.tree}/j{j:02d}"


def spawn(cmd, cwd, log: Path) -> subprocess.Popen:
    return track(subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=open(log, "wb"), start_new_session=True))


def pool(cmds: list, at_once: int) -> str | None:
    """Runs (cmd, cwd, log) items, at most at_once at a time; the first failure, if any."""
    running: list = []
    failure = None
    todo = list(cmds)
    deadline = time.monotonic() + TOOL_TIMEOUT_S
    while todo or running:
        while todo and len(running) < at_once:
            cmd, cwd, log = todo.pop(0)
            running.append((spawn(cmd, cwd, log), cmd, log))
        for item in list(running):
            p, cmd, log = item
            if p.poll() is not None:
                running.remove(item)
                if p.returncode != 0 and failure is None:
                    failure = f"{Path(cmd[0]).name} exit {p.returncode}: {last_line(log.read_text(errors='replace'))}"
        if time.monotonic() > deadline:
            for p, _, _ in running:
                stop(p, signal.SIGKILL)
            return "timed out"
        time.sleep(0.005)
    return failure


def batch_snatch_job(ctx: BatchCtx) -> Path:
    lines = ["version: 1", "defaults:", f"  concurrency: {CONNECTIONS}", "  headers:",
             f"    Referer: \"{REFERER}\"", "  output_dir: out", "limits:",
             f"  global: {{ concurrency: {CONNECTIONS} }}",
             f"  per_host: {{ concurrency: {CONNECTIONS} }}", "jobs:"]
    for j in range(1, BATCH_JOBS + 1):
        lines += [f"  - name: j{j:02d}", f"    url: \"{ctx.job_url(j)}/{{{{index}}}}.ts\"",
                  "    padding: 6", f"    range: {{ start: 1, end: {ctx.media.count} }}",
                  f"    output: j{j:02d}.mp4"]
    job = ctx.run_dir / "jobs.yaml"
    job.write_text("\n".join(lines) + "\n")
    return job


def batch_outputs(ctx: BatchCtx, pattern: str) -> list[Path]:
    return [ctx.run_dir / pattern.format(j=j) for j in range(1, BATCH_JOBS + 1)]


def batch_snatch(ctx: BatchCtx) -> tuple[str | None, list[Path]]:
    job = batch_snatch_job(ctx)
    err = pool([([str(ctx.snatch), "run", str(job), "-q", "--report", str(ctx.run_dir / "report.json")],
                 ctx.run_dir, ctx.run_dir / "snatch.log")], 1)
    return err, batch_outputs(ctx, "out/j{j:02d}.mp4")


def batch_ytdlp(ctx: BatchCtx) -> tuple[str | None, list[Path]]:
    cmds = []
    for j in range(1, BATCH_JOBS + 1):
        d = ctx.run_dir / f"yt{j:02d}"
        d.mkdir()
        cmds.append((["yt-dlp", "--ignore-config", "--no-cache-dir", "--no-progress", "--quiet",
                      "--hls-prefer-native", "-N", str(BATCH_YTDLP_N),
                      "--add-header", f"Referer:{REFERER}", "-o", "out.mp4",
                      f"{ctx.job_url(j)}/index.m3u8"], d, d.parent / f"yt{j:02d}.log"))
    return pool(cmds, BATCH_YTDLP_AT_ONCE), batch_outputs(ctx, "yt{j:02d}/out.mp4")


def batch_ffmpeg(ctx: BatchCtx) -> tuple[str | None, list[Path]]:
    cmds = [(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
              "-headers", f"Referer: {REFERER}\r\n", "-i", f"{ctx.job_url(j)}/index.m3u8",
              "-c", "copy", "-bsf:a", "aac_adtstoasc", f"ff{j:02d}.mp4"],
             ctx.run_dir, ctx.run_dir / f"ff{j:02d}.log") for j in range(1, BATCH_JOBS + 1)]
    return pool(cmds, BATCH_FFMPEG_AT_ONCE), batch_outputs(ctx, "ff{j:02d}.mp4")


def batch_aria2c(ctx: BatchCtx) -> tuple[str | None, list[Path]]:
    urls = ctx.run_dir / "urls.txt"
    with open(urls, "w") as f:
        for j in range(1, BATCH_JOBS + 1):
            for i in range(1, ctx.media.count + 1):
                f.write(f"{ctx.job_url(j)}/{i:06d}.ts\n  dir={ctx.run_dir / f'segs{j:02d}'}\n")
    err = pool([(["aria2c", "-j", str(CONNECTIONS), "-x", "1", "--header", f"Referer: {REFERER}",
                  "-i", str(urls), "--console-log-level=error", "--summary-interval=0",
                  "--download-result=hide", "--show-console-readout=false"],
                 ctx.run_dir, ctx.run_dir / "aria2c.log")], 1)
    if err:
        return err, []
    cmds = []
    for j in range(1, BATCH_JOBS + 1):
        lst = ctx.run_dir / f"list{j:02d}.txt"
        seg = ctx.run_dir / f"segs{j:02d}"
        lst.write_text("".join(f"file '{seg / f'{i:06d}.ts'}'\n" for i in range(1, ctx.media.count + 1)))
        cmds.append((["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                      "-f", "concat", "-safe", "0", "-i", str(lst), "-c", "copy",
                      "-bsf:a", "aac_adtstoasc", f"cat{j:02d}.mp4"],
                     ctx.run_dir, ctx.run_dir / f"cat{j:02d}.log"))
    return pool(cmds, os.cpu_count() or 1), batch_outputs(ctx, "cat{j:02d}.mp4")


BATCH_RUNNERS = {
    "snatch": batch_snatch,
    "yt-dlp": batch_ytdlp,
    "ffmpeg-hls": batch_ffmpeg,
    "aria2c": batch_aria2c,
}
BATCH_RUNNERS["snatch-base"] = lambda ctx: batch_snatch(BatchCtx(BASELINE["bin"], ctx.base_url, ctx.media,
                                                                ctx.tree, ctx.run_dir))
BATCH_LABELS = {
    "snatch": f"snatch, one job file ({BATCH_JOBS} jobs, global concurrency {CONNECTIONS})",
    "snatch-base": "snatch --baseline (same job file, earlier binary)",
    "yt-dlp": f"yt-dlp, {BATCH_YTDLP_AT_ONCE} at a time, -N {BATCH_YTDLP_N} each",
    "ffmpeg-hls": f"ffmpeg -i index.m3u8, {BATCH_FFMPEG_AT_ONCE} at a time",
    "aria2c": f"aria2c -j {CONNECTIONS} one list, then ffmpeg concat per job",
}


def batch_attempt(run, ctx: BatchCtx) -> Attempt:
    reap_orphans()
    cpu0, t0 = children_cpu(), time.monotonic()
    err, outputs = run(ctx)
    secs = time.monotonic() - t0
    time.sleep(0.05)  # let orphans the tool left (if any) exit and come to us
    reap_orphans()
    cpu = children_cpu() - cpu0
    if err:
        return Attempt(False, secs, err, extra={"cpu_s": cpu})
    for o in outputs:
        ok, note = probe(o, ctx.media.expected_s)
        if not ok:
            return Attempt(False, secs, f"{o.name}: {note}", extra={"cpu_s": cpu})
    return Attempt(True, secs, f"{len(outputs)} outputs playable", extra={"cpu_s": cpu})


# --------------------------------------------------------------------------
# page cache: every timed attempt starts with the same files resident
#
# A VM may evict cold page cache on its own (this one runs DAMON with the
# action `pageout`): after a long scenario, the set's files and ffmpeg's
# libraries were partly back on disk, and whichever tool ran first paid
# seconds for it. So before each attempt the media set and every tool's
# executable and shared libraries are read once, for every tool alike.


_WARM_FILES: list[Path] = []


def warm_binaries(binaries: list[Path]) -> None:
    """Collects each binary and the shared libraries ldd lists for it."""
    seen = {str(p) for p in _WARM_FILES}
    for b in binaries:
        found = [str(b)]
        try:
            ldd = subprocess.run(["ldd", str(b)], capture_output=True, text=True, timeout=30).stdout
            found += re.findall(r"(/\S+) \(0x", ldd)
        except (OSError, subprocess.SubprocessError):
            pass
        for f in found:
            real = os.path.realpath(f)
            if real not in seen and os.path.isfile(real):
                seen.add(real)
                _WARM_FILES.append(Path(real))


def warm(media: "MediaSet") -> None:
    """Reads the media set and the collected binaries, discarding the bytes."""
    buf = bytearray(1 << 20)
    for f in [*_WARM_FILES, *sorted(media.dir.iterdir())]:
        try:
            with open(f, "rb", buffering=0) as fh:
                while fh.readinto(buf):
                    pass
        except OSError:
            pass


# --------------------------------------------------------------------------
# measurement bookkeeping


def fmt_s(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


@dataclass
class ToolResult:
    times: list = field(default_factory=list)
    failed: str | None = None
    attempts: list = field(default_factory=list)

    @property
    def median(self) -> float | None:
        if self.failed or not self.times:
            return None
        return statistics.median(self.times)


class Bench:
    def __init__(self, args, work: Path, snatch: Path, server_bin: Path):
        self.args = args
        self.work = work
        self.snatch = snatch
        self.server_bin = server_bin
        self.summary: dict = {}  # scenario -> data used by targets
        self.run_no = 0

    def fresh_dir(self, label: str) -> Path:
        self.run_no += 1
        d = self.work / "runs" / f"{self.run_no:04d}-{label}"
        d.mkdir(parents=True)
        return d

    def compare(self, scen: str, title: str, media: MediaSet, base_url: str, tools: list[str],
                latency_ms: int | None, runners: dict = RUNNERS, labels: dict = LABELS) -> None:
        out()
        out(f"## {title}")
        out()
        out(f"{media.describe()}; server {base_url}; {CONNECTIONS} connections; "
            f"Referer sent by every tool; {self.args.rounds} round(s), tool order rotated each round.")
        if latency_ms:
            floor = media.requests * latency_ms / 1000 / CONNECTIONS
            out(f"Latency floor: {media.requests} x {latency_ms} ms / {CONNECTIONS} = {floor:.2f} s "
                f"(before any transfer or merge).")
        load_line()
        out()
        results = {t: ToolResult() for t in tools}
        for r in range(self.args.rounds):
            order = tools[r % len(tools):] + tools[: r % len(tools)]
            for tool in order:
                res = results[tool]
                if res.failed:
                    continue
                d = self.fresh_dir(f"{scen}-{tool}")
                ctx = Ctx(self.snatch, base_url, media, d)
                warm(media)
                try:
                    a = runners[tool](ctx)
                finally:
                    shutil.rmtree(d, ignore_errors=True)
                res.attempts.append(a)
                status = "ok" if a.ok else "FAILED"
                extra = ""
                if a.phases:
                    extra += " (" + ", ".join(f"{k} {v:.2f} s" for k, v in a.phases.items()) + ")"
                if "merge_tail_s" in a.extra:
                    extra += f" (merge tail {a.extra['merge_tail_s'] * 1000:.0f} ms"
                    if "internal_s" in a.extra:
                        extra += f", report elapsed {a.extra['internal_s']:.2f} s"
                    extra += ")"
                progress(f"round {r + 1}/{self.args.rounds} {tool:<10} {a.seconds:7.2f} s {status}: {a.note}{extra}")
                if a.ok:
                    res.times.append(a.seconds)
                else:
                    res.failed = a.note
        snatch_med = results["snatch"].median if "snatch" in results else None
        out()
        out("| tool | median s | ratio to snatch | runs |")
        out("| --- | ---: | ---: | --- |")
        for t in tools:
            res = results[t]
            if res.failed:
                out(f"| {labels[t]} | FAILED | — | {res.failed} |")
                continue
            med = res.median
            ratio = "—" if (med is None or not snatch_med) else f"{med / snatch_med:.2f}"
            runs = ", ".join(f"{x:.2f}" for x in res.times)
            out(f"| {labels[t]} | {fmt_s(med)} | {ratio} | {runs} |")
        for t in ("curl", "aria2c"):
            if t in results and not results[t].failed and results[t].attempts:
                ph = [a.phases for a in results[t].attempts if a.phases]
                if ph:
                    dl = statistics.median(p["download"] for p in ph)
                    mg = statistics.median(p["merge"] for p in ph)
                    out(f"\n{t}: median download {dl:.2f} s + ffmpeg concat {mg:.2f} s.")
        sn = results.get("snatch")
        if sn and sn.attempts:
            tails = [a.extra["merge_tail_s"] for a in sn.attempts if "merge_tail_s" in a.extra]
            ints = [a.extra["internal_s"] for a in sn.attempts if "internal_s" in a.extra]
            bits = []
            if tails:
                bits.append(f"median merge tail (last segment landed → merged and verified) "
                            f"{statistics.median(tails) * 1000:.0f} ms")
            if ints:
                bits.append(f"median report elapsed_s {statistics.median(ints):.2f} s")
            if bits:
                out("\nsnatch: " + "; ".join(bits) + ".")
        self.summary[scen] = {"results": results, "media": media, "latency_ms": latency_ms}

    def batch(self, media: MediaSet, tree: Path, base_url: str, tools: list[str], latency_ms: int) -> None:
        out()
        out(f"## batch — {BATCH_JOBS} jobs x {media.count} segments at once, {latency_ms} ms latency, "
            f"{CONNECTIONS} connections in all")
        out()
        seg_mb = statistics.mean(p.stat().st_size for p in media.dir.glob("*.ts")) / 1e6
        floor = BATCH_JOBS * media.count * latency_ms / 1000 / CONNECTIONS
        out(f"Each job its own URLs ({tree.relative_to(ROOT)}/jNN/, symlinks to {media.rel}: "
            f"{media.count} x {media.seg_s} s, mean {seg_mb:.2f} MB); server {base_url}; "
            f"{self.args.rounds} round(s), tool order rotated each round. Latency floor: "
            f"{BATCH_JOBS} x {media.count} x {latency_ms} ms / {CONNECTIONS} = {floor:.2f} s. "
            f"CPU is user + system seconds of every process each tool ran, their children included "
            f"(RUSAGE_CHILDREN around the tool's batch; the bench is a child subreaper, so orphaned "
            f"grandchildren count too); the segment server's is not in it. Every output is probed "
            f"(video and audio, duration ±2 %) after the clock stops.")
        load_line()
        out()
        results = {t: ToolResult() for t in tools}
        cpus = {t: [] for t in tools}
        for r in range(self.args.rounds):
            order = tools[r % len(tools):] + tools[: r % len(tools)]
            for tool in order:
                res = results[tool]
                if res.failed:
                    continue
                d = self.fresh_dir(f"batch-{tool}")
                warm(media)
                try:
                    a = batch_attempt(BATCH_RUNNERS[tool], BatchCtx(self.snatch, base_url, media, tree.name, d))
                finally:
                    shutil.rmtree(d, ignore_errors=True)
                res.attempts.append(a)
                cpu = a.extra.get("cpu_s", 0.0)
                progress(f"round {r + 1}/{self.args.rounds} {tool:<11} {a.seconds:7.2f} s wall "
                         f"{cpu:6.2f} s CPU {'ok' if a.ok else 'FAILED'}: {a.note} "
                         f"(load {os.getloadavg()[0]:.2f})")
                if a.ok:
                    res.times.append(a.seconds)
                    cpus[tool].append(cpu)
                else:
                    res.failed = a.note
        out()
        out("| tool | median wall s | median CPU s | wall runs | CPU runs |")
        out("| --- | ---: | ---: | --- | --- |")
        cpu_med = {}
        for t in tools:
            res = results[t]
            if res.failed:
                out(f"| {BATCH_LABELS[t]} | FAILED | — | {res.failed} | |")
                continue
            cpu_med[t] = statistics.median(cpus[t]) if cpus[t] else None
            out(f"| {BATCH_LABELS[t]} | {fmt_s(res.median)} | {fmt_s(cpu_med[t])} | "
                f"{', '.join(f'{x:.2f}' for x in res.times)} | {', '.join(f'{x:.2f}' for x in cpus[t])} |")
        self.summary["batch"] = {"results": results, "cpu": cpu_med}

    def rate(self, media: MediaSet, base_url: str, rps: float) -> None:
        out()
        out(f"## rate — snatch alone, per_host {{concurrency: {CONNECTIONS}, requests_per_second: {rps:g}}}, "
            f"burst 1, set {media.key} at 50 ms")
        out()
        allowed = media.count / rps
        out(f"{media.describe()}; server {base_url}. The limit allows {media.count} / {rps:g} = {allowed:.2f} s.")
        load_line()
        out()
        res = ToolResult()
        for r in range(self.args.rounds):
            d = self.fresh_dir("rate-snatch")
            warm(media)
            try:
                a = run_snatch(Ctx(self.snatch, base_url, media, d), rps=rps)
            finally:
                shutil.rmtree(d, ignore_errors=True)
            res.attempts.append(a)
            tail = a.extra.get("merge_tail_s")
            tail_s = f" (merge tail {tail * 1000:.0f} ms)" if tail is not None else ""
            progress(f"round {r + 1}/{self.args.rounds} snatch {a.seconds:7.2f} s "
                     f"{'ok' if a.ok else 'FAILED'}: {a.note}{tail_s}")
            if a.ok:
                res.times.append(a.seconds)
            else:
                res.failed = a.note
                break
        out()
        out("| tool | median s | ratio to allowed | runs |")
        out("| --- | ---: | ---: | --- |")
        if res.failed:
            out(f"| snatch @ {rps:g} req/s | FAILED | — | {res.failed} |")
        else:
            out(f"| snatch @ {rps:g} req/s | {fmt_s(res.median)} | {res.median / allowed:.3f} | "
                + ", ".join(f"{x:.2f}" for x in res.times) + " |")
        self.summary["rate"] = {"median": res.median, "allowed": allowed}

    def bytes_limit(self, media: MediaSet, server_bin: Path, limit: int, seconds: float) -> None:
        """`limits.global.bytes_per_second` measured at the server (segment-server --byte-log):
        the average over the transfer and the fullest one-second window."""
        count = min(media.count, max(1, round(limit * seconds / media.avg_bytes())))
        out()
        out(f"## bytes — snatch alone, limits.global.bytes_per_second {limit:,} (K = 1000), "
            f"{count} segments of set {media.key}, {CONNECTIONS} connections, {self.args.latency_ms} ms")
        out()
        load_line()
        out()
        out("| round | bytes | wall s | average at snatch B/s | ÷ limit | average at the server B/s | ÷ limit | "
            "fullest second at the server B/s | over the limit, in segments | in segments per connection |")
        out("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        rows = []
        for r in range(self.args.rounds):
            row = self.bytes_round(media, server_bin, limit, count)
            if row is None:
                out(f"| {r + 1} | FAILED | | | | | | | | |")
                break
            rows.append(row)
            total, wall, avg, worst, seg, fetch_s = row
            over = (worst - limit) / seg
            at_snatch = total / fetch_s if fetch_s else 0.0
            out(f"| {r + 1} | {total:,} | {wall:.2f} | {at_snatch:,.0f} | {at_snatch / limit:.3f} | "
                f"{avg:,.0f} | {avg / limit:.3f} | {worst:,} | {over:.2f} | {over / CONNECTIONS:.2f} |")
            progress(f"bytes round {r + 1}: {avg / limit:.3f} × the limit, fullest second {over:.2f} segments over")
        if rows:
            ratios = sorted(x[2] / limit for x in rows)
            at_snatch = sorted(x[0] / x[5] / limit for x in rows if x[5])
            self.summary["bytes"] = {"ratio": ratios[len(ratios) // 2],
                                     "at_snatch": at_snatch[len(at_snatch) // 2] if at_snatch else None,
                                     "over_segments": max((x[3] - limit) / x[4] for x in rows)}

    def bytes_round(self, media: MediaSet, server_bin: Path, limit: int, count: int):
        d = self.fresh_dir("bytes-snatch")
        log = d / "bytes.log"
        server = track(subprocess.Popen(
            [str(server_bin), "--root", str(MEDIA), "--latency-ms", str(self.args.latency_ms),
             "--bind", "127.0.0.1", "--byte-log", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True, text=True))
        try:
            m = re.match(r"listening on (http://127\.0\.0\.\d+:\d+)", server.stdout.readline().strip())
            if not m:
                return None
            ctx = Ctx(self.snatch, m.group(1), media, d)
            job = snatch_job(ctx, count, media.rel)
            text = job.read_text().replace("limits:\n", f"limits:\n  global: {{ bytes_per_second: {limit} }}\n")
            job.write_text(text)
            warm(media)
            a = run_snatch(Ctx(self.snatch, m.group(1), media.with_count(count), d), job=job)
        finally:
            stop(server)
        if not a.ok or not log.exists():
            progress(f"bytes: {a.note}")
            return None
        writes = [(float(t), int(n)) for t, n in (line.split() for line in log.read_text().splitlines())]
        shutil.rmtree(d, ignore_errors=True)
        total = sum(n for _, n in writes)
        span = writes[-1][0] - writes[0][0]
        avg = (total - writes[0][1]) / span if span > 0 else 0.0
        worst, j, inside = 0, 0, 0
        for i, (t, _) in enumerate(writes):
            while j < len(writes) and writes[j][0] < t + 1.0:
                inside += writes[j][1]
                j += 1
            worst = max(worst, inside)
            inside -= writes[i][1]
        # What snatch read, over its run less the merge after the last segment.
        fetch_s = a.extra.get("internal_s", a.seconds) - a.extra.get("merge_tail_s", 0.0)
        return total, a.seconds, avg, worst, media.avg_bytes(), fetch_s

    def rss(self, small: MediaSet, big_dir: Path, servers: list[tuple[str, str]]) -> None:
        out()
        out("## rss — snatch's peak memory")
        out()
        load_line()
        out()
        big_count = len(list(big_dir.glob("*.ts")))
        out(f"The {big_count}-segment job fetches set A's files {big_count // small.count} times over "
            f"(symlinks). `/usr/bin/time -v` gives the peak RSS of snatch's process tree: Linux folds "
            f"the largest reaped child (the merging ffmpeg, ffprobe) into it. snatch's own peak is read "
            f"from /proc/PID/status VmHWM, sampled every 20 ms, and so is the peak of its ffmpeg/ffprobe "
            f"children. The target applies to snatch's own peak.")
        out()
        out(f"Each measurement is repeated {self.args.rounds} time(s) (it varies by several MiB from run "
            f"to run); the table shows the largest, and every run's snatch VmHWM.")
        out()
        out("| server | segments | ~MB fetched | snatch s (median) | /usr/bin/time -v max RSS MiB | "
            "snatch VmHWM MiB (max) | snatch VmHWM per run | children VmHWM MiB |")
        out("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
        rows = {}
        notes = []
        for label, base_url in servers:
            for count, rel in ((small.count, small.rel), (big_count, big_dir.name)):
                runs = []
                for r in range(self.args.rounds):
                    d = self.fresh_dir(f"rss-{count}")
                    try:
                        one = self.rss_one(d, base_url, small, count, rel)
                    finally:
                        shutil.rmtree(d, ignore_errors=True)
                    progress(f"{label}, {count} segments, run {r + 1}: "
                             + (one["error"] if one.get("error") else
                                f"{one['secs']:.2f} s, time -v {one['time_mib']:.1f} MiB, "
                                f"snatch {one['own_mib']:.1f} MiB, children {one['child_mib']:.1f} MiB"))
                    runs.append(one)
                    if one.get("note"):
                        notes.append(f"{label}, {count} segments, run {r + 1}: {one['note']}")
                    if one.get("error"):
                        break
                bad = [x for x in runs if x.get("error")]
                if bad:
                    r = bad[0]
                    out(f"| {label} | {count} | — | {fmt_s(r.get('secs'))} | FAILED | — | {r['error']} | — |")
                else:
                    r = {
                        "mb": runs[0]["mb"],
                        "secs": statistics.median(x["secs"] for x in runs),
                        "time_mib": max(x["time_mib"] for x in runs),
                        "own_mib": max(x["own_mib"] for x in runs),
                        "own_runs": [x["own_mib"] for x in runs],
                        "child_mib": max(x["child_mib"] for x in runs),
                    }
                    out(f"| {label} | {count} | {r['mb']:.0f} | {r['secs']:.2f} | {r['time_mib']:.1f} | "
                        f"{r['own_mib']:.1f} | {', '.join(f'{x:.1f}' for x in r['own_runs'])} | {r['child_mib']:.1f} |")
                rows[(label, count)] = r
        for n in notes:
            out(f"\n{n}")
        self.summary["rss"] = rows

    def rss_aes(self, small: MediaSet, media: Path, label: str, base_url: str) -> None:
        """Peak RSS of one 250 MB segment fetched clear and AES-128 encrypted."""
        out()
        out(f"### rss, AES-128 — one {AES_MB} MB segment, clear and encrypted ({label})")
        out()
        out("A `playlist:` job of one segment (set A's files looped by remuxing), once clear and once "
            "AES-128-CBC (`openssl enc`); the same figures as above. An encrypted segment is "
            "decrypted as it arrives, so it should cost what the clear one costs.")
        out()
        out("| segment | ~MB fetched | snatch s (median) | /usr/bin/time -v max RSS MiB | "
            "snatch VmHWM MiB (max) | snatch VmHWM per run | children VmHWM MiB |")
        out("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
        rows = {}
        for kind in ("clear", "aes"):
            runs = []
            for r in range(self.args.rounds):
                d = self.fresh_dir(f"rss-{kind}")
                job = playlist_job(d, f"{base_url}/{media.name}/{kind}/index.m3u8")
                try:
                    one = self.rss_one(d, base_url, small, 1, "", job=job)
                finally:
                    shutil.rmtree(d, ignore_errors=True)
                progress(f"{kind}, run {r + 1}: " + (one.get("error") or f"{one['secs']:.2f} s, "
                         f"snatch {one['own_mib']:.1f} MiB, time -v {one['time_mib']:.1f} MiB"))
                if one.get("note") or one.get("error"):
                    one["error"] = one.get("error") or one["note"]
                    break
                runs.append(one)
            name = "AES-128" if kind == "aes" else "clear"
            if len(runs) < self.args.rounds:
                out(f"| {name} | — | — | FAILED | — | {one['error']} | — |")
                rows[kind] = {"error": one["error"]}
                continue
            r = {"own_mib": max(x["own_mib"] for x in runs), "time_mib": max(x["time_mib"] for x in runs)}
            rows[kind] = r
            per_run = ", ".join(f"{x['own_mib']:.1f}" for x in runs)
            out(f"| {name} | {runs[0]['mb']:.0f} | {statistics.median(x['secs'] for x in runs):.2f} | "
                f"{r['time_mib']:.1f} | {r['own_mib']:.1f} | {per_run} | "
                f"{max(x['child_mib'] for x in runs):.1f} |")
        self.summary["rss_aes"] = rows

    def rss_one(self, d: Path, base_url: str, small: MediaSet, count: int, rel: str,
                job: Path | None = None) -> dict:
        ctx = Ctx(self.snatch, base_url, small, d)
        job = job or snatch_job(ctx, count, rel)
        tfile = d / "time.txt"
        t0 = time.monotonic()
        p = track(subprocess.Popen(
            ["/usr/bin/time", "-v", "-o", str(tfile), str(self.snatch), "run", str(job), "-q",
             "--report", str(d / "report.json")],
            cwd=d, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        ))
        own = {"snatch": 0, "children": 0}

        def kb(pid: int) -> int:
            try:
                for line in open(f"/proc/{pid}/status"):
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
            except OSError:
                pass
            return 0

        def children(pid: int) -> list[int]:
            try:
                kids = []
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        kids += [int(x) for x in f.read().split()]
                return kids
            except OSError:
                return []

        def sample():
            while p.poll() is None:
                for sp in children(p.pid):  # /usr/bin/time's child: snatch
                    own["snatch"] = max(own["snatch"], kb(sp))
                    for cp in children(sp):
                        own["children"] = max(own["children"], kb(cp))
                time.sleep(0.02)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        try:
            _, se = p.communicate(timeout=TOOL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop(p, signal.SIGKILL)
            return {"error": "timed out", "secs": time.monotonic() - t0}
        secs = time.monotonic() - t0
        th.join()
        txt = tfile.read_text() if tfile.exists() else ""
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", txt)
        st = re.search(r"Exit status: (\d+)", txt)
        res = {"secs": secs}
        if not m:
            return {**res, "error": "no /usr/bin/time output"}
        note = ""
        exit_code = int(st.group(1)) if st else p.returncode
        if exit_code != 0:
            note = f"snatch exit {exit_code}: {last_line(se.decode(errors='replace'))} (memory figures still valid)"
        mb = 0.0
        try:
            mb = json.loads((d / "report.json").read_text())["totals"]["bytes"] / 1e6
        except (OSError, ValueError, KeyError):
            pass
        return {**res, "time_mib": int(m.group(1)) / 1024, "own_mib": own["snatch"] / 1024,
                "child_mib": own["children"] / 1024, "mb": mb, "note": note, "exit": exit_code}

    def playlist_memory(self) -> None:
        """Peak RSS of snatch reading a 500,000-segment (~60 MB) media playlist."""
        out()
        out(f"### rss — a {PLAYLIST_SEGMENTS:,}-segment playlist")
        out()
        load_line()
        out()
        d = self.work / "playlist-memory"
        www = d / "www"
        www.mkdir(parents=True, exist_ok=True)
        playlist = www / "big.m3u8"
        with open(playlist, "w") as f:
            f.write("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:7\n#EXT-X-MEDIA-SEQUENCE:0\n")
            for i in range(PLAYLIST_SEGMENTS):
                f.write(f"#EXTINF:6.006,\nmedia/stream_1080p_h264/chunk-{i:07d}-a1b2c3d4e5f6.ts"
                        f"?sig=0123456789abcdef0123456789abcdef&exp=17{i:08d}\n")
            f.write("#EXT-X-ENDLIST\n")
        size_mb = playlist.stat().st_size / 1e6
        server, url = start_segment_server(self.server_bin, www, 0)
        out(f"A generated media playlist of {PLAYLIST_SEGMENTS:,} segments, {size_mb:.1f} MB (URIs of "
            f"~100 bytes), from segment-server; no segment exists, so `run` stops at the first one "
            f"(a 404): what is measured is reading, resolving and saving the playlist. "
            f"Peak RSS by `/usr/bin/time -f %M`.")
        out()
        out("| command | peak RSS MiB | s |")
        out("| --- | ---: | ---: |")
        job = d / "jobs.yaml"
        job.write_text(f"version: 1\njobs:\n  - name: big\n    playlist: \"{url}/big.m3u8\"\n")
        commands = {
            "snatch plan --probe": ["plan", str(job), "--probe"],
            "snatch run": ["run", str(job), "-q"],
            "snatch new --dry-run": ["new", f"{url}/big.m3u8", "--dry-run", "-f", str(d / "new.yaml")],
        }
        rows = {}
        try:
            for label, args in commands.items():
                shutil.rmtree(d / "out", ignore_errors=True)
                tfile = d / "time.txt"
                rc, _, se, secs = run_cmd(["/usr/bin/time", "-f", "%M", "-o", str(tfile),
                                           str(self.snatch), *args], cwd=d)
                try:
                    mib = int(tfile.read_text().strip().splitlines()[-1]) / 1024
                except (OSError, ValueError, IndexError):
                    out(f"| {label} | FAILED | {secs:.2f} |")
                    rows[label] = {"error": last_line(se)}
                    continue
                out(f"| {label} | {mib:.1f} | {secs:.2f} |")
                rows[label] = {"mib": mib, "secs": secs}
        finally:
            stop(server)
        self.summary["playlist-memory"] = rows

    def cli(self) -> None:
        out()
        out("## cli — `snatch validate` and `snatch plan` of 5,000 jobs")
        out()
        load_line()
        out()
        d = self.work / "cli"
        d.mkdir(parents=True, exist_ok=True)
        jobs = d / "jobs5000.yaml"
        lines = ["version: 1", "defaults:", "  headers:", f"    Referer: \"{REFERER}\"",
                 "limits:", f"  per_host: {{ concurrency: {CONNECTIONS} }}", "jobs:"]
        for i in range(1, 5001):
            lines += [f"  - name: job-{i:05d}",
                      f"    url: \"http://127.0.0.1:9/v{i:05d}/{{{{index}}}}.ts\"",
                      "    padding: 6",
                      "    range: { start: 1, end: 300 }",
                      f"    output: \"v/{i:05d}.mp4\"",
                      "    tags: [bench]"]
        jobs.write_text("\n".join(lines) + "\n")
        out(f"Job file: 5,000 jobs x 300 segments ({jobs.stat().st_size / 1e6:.1f} MB of YAML); "
            f"output to /dev/null.")
        out()
        res = {}
        for sub in ("validate", "plan"):
            rc, _, se, secs = run_cmd([str(self.snatch), sub, str(jobs)], cwd=d, timeout=300)
            if rc != 0:
                res[sub] = {"error": f"exit {rc}: {last_line(se)}"}
                continue
            if shutil.which("hyperfine"):
                js = d / f"{sub}.json"
                rc, _, se, _ = run_cmd(
                    ["hyperfine", "-N", "--warmup", "1", "--runs", "5", "--export-json", str(js),
                     f"{self.snatch} {sub} {jobs}"], cwd=d, timeout=600)
                if rc != 0:
                    res[sub] = {"error": f"hyperfine exit {rc}: {last_line(se)}"}
                    continue
                r = json.loads(js.read_text())["results"][0]
                res[sub] = {"median": r["median"], "runs": r["times"], "how": "hyperfine, 1 warmup + 5 runs"}
            else:
                times = []
                for _ in range(5):
                    rc, _, se, secs = run_cmd([str(self.snatch), sub, str(jobs)], cwd=d, timeout=300)
                    times.append(secs)
                res[sub] = {"median": statistics.median(times), "runs": times, "how": "median of 5 runs"}
        out("| command | median s | runs | how |")
        out("| --- | ---: | --- | --- |")
        for sub, r in res.items():
            if "error" in r:
                out(f"| snatch {sub} | FAILED | {r['error']} | |")
            else:
                out(f"| snatch {sub} | {r['median']:.3f} | {', '.join(f'{x:.3f}' for x in r['runs'])} | {r['how']} |")
        self.summary["cli"] = res


# --------------------------------------------------------------------------
# targets


def targets(b: Bench, quick: bool, latency_ms: int) -> None:
    s = b.summary
    out()
    out("## Targets" + (" (quick run: small sets, the verdicts are only a smoke test)" if quick else ""))
    out()
    out("| target | measured | met |")
    out("| --- | --- | --- |")

    def row(name, measured, met):
        out(f"| {name} | {measured} | {'yes' if met is True else 'NO' if met is False else met} |")

    def fastest_peer(scen):
        res = s[scen]["results"]
        peers = [(t, r.median) for t, r in res.items() if t not in OWN and r.median is not None]
        return min(peers, key=lambda x: x[1]) if peers else None

    def snatch_med(scen):
        return s[scen]["results"]["snatch"].median

    for scen, factor, label in (("a-50ms", 0.5, "A"), ("b-50ms", 0.75, "B")):
        if scen not in s:
            row(f"set {label} at 50 ms: snatch ≤ {factor} × fastest peer", "not run", "—")
            continue
        m, fp = snatch_med(scen), fastest_peer(scen)
        n = s[scen]["media"].count
        if m is None:
            row(f"{n} segments ({label}) at 50 ms: snatch ≤ {factor} × fastest peer", "snatch FAILED", False)
        elif fp is None:
            row(f"{n} segments ({label}) at 50 ms: snatch ≤ {factor} × fastest peer", f"snatch {m:.2f} s, no peer finished", "—")
        else:
            row(f"{n} segments ({label}) at 50 ms: snatch ≤ {factor} × fastest peer",
                f"snatch {m:.2f} s vs {fp[0]} {fp[1]:.2f} s = {m / fp[1]:.2f} ×", m <= factor * fp[1])
        if scen == "b-50ms" and m is not None:
            floor = n * latency_ms / 1000 / CONNECTIONS
            row(f"{n} segments ({label}) at 50 ms: snatch ≤ 1.10 × floor ({n} × {latency_ms} ms / {CONNECTIONS} = {floor:.2f} s)",
                f"{m:.2f} s = {m / floor:.2f} × floor", m <= 1.10 * floor)
    name = "playlist at 50 ms: snatch fastest (its median below every peer's)"
    if "playlist" not in s:
        row(name, "not run", "—")
    else:
        m = snatch_med("playlist")
        peers = {t: r for t, r in s["playlist"]["results"].items() if t not in OWN}
        done = {t: r.median for t, r in peers.items() if r.median is not None}
        failed = sorted(t for t, r in peers.items() if r.failed)
        if m is None:
            row(name, "snatch FAILED", False)
        elif not done:
            row(name, f"snatch {m:.2f} s, no peer finished", "—")
        else:
            fp = min(done.items(), key=lambda x: x[1])
            measured = (f"snatch {m:.2f} s vs {fp[0]} {fp[1]:.2f} s = {m / fp[1]:.2f} ×"
                        + (f" ({', '.join(failed)} FAILED)" if failed else ""))
            row(name, measured, m < fp[1])
    if "batch" not in s:
        row("batch: wall ≤ 0.60 × fastest peer, CPU ≤ 0.80 × cheapest peer", "not run", "—")
    else:
        res, cpu = s["batch"]["results"], s["batch"]["cpu"]
        m, c = res["snatch"].median if "snatch" in res else None, cpu.get("snatch")
        peers = [t for t in res if t not in OWN and res[t].median is not None]
        if m is None or c is None:
            row("batch: wall ≤ 0.60 × fastest peer, CPU ≤ 0.80 × cheapest peer", "snatch FAILED", False)
        elif not peers:
            row("batch: wall ≤ 0.60 × fastest peer, CPU ≤ 0.80 × cheapest peer",
                f"snatch {m:.2f} s, {c:.2f} s CPU; no peer finished", "—")
        else:
            fw = min(peers, key=lambda t: res[t].median)
            row(f"batch of {BATCH_JOBS} jobs: wall ≤ 0.60 × fastest peer",
                f"snatch {m:.2f} s vs {fw} {res[fw].median:.2f} s = {m / res[fw].median:.2f} ×",
                m <= 0.60 * res[fw].median)
            priced = [t for t in peers if cpu.get(t) is not None]
            fc = min(priced, key=lambda t: cpu[t])
            row(f"batch of {BATCH_JOBS} jobs: CPU (with children) ≤ 0.80 × cheapest peer",
                f"snatch {c:.2f} s vs {fc} {cpu[fc]:.2f} s = {c / cpu[fc]:.2f} ×", c <= 0.80 * cpu[fc])
        base = res.get("snatch-base")
        if base is not None and m is not None:
            b = base.median
            row("batch: snatch no slower than the baseline binary (≤ 1.05 ×, the noise)",
                f"snatch {m:.2f} s vs baseline {fmt_s(b)} s" + (f" = {m / b:.2f} ×" if b else ""),
                "—" if b is None else m <= 1.05 * b)
    name = f"DASH at 50 ms: snatch ≤ {DASH_FACTOR} × yt-dlp"
    if "dash" not in s:
        row(name, "not run", "—")
    else:
        m = snatch_med("dash")
        yt = s["dash"]["results"].get("yt-dlp")
        if m is None:
            row(name, f"snatch FAILED: {s['dash']['results']['snatch'].failed}", False)
        elif yt is None or yt.median is None:
            row(name, f"snatch {m:.2f} s; yt-dlp {'FAILED' if yt else 'absent'}", "—")
        else:
            row(name, f"snatch {m:.2f} s vs yt-dlp {yt.median:.2f} s = {m / yt.median:.2f} ×",
                m <= DASH_FACTOR * yt.median)
    if "rate" in s:
        r = s["rate"]
        if r["median"] is None:
            row("rate 20/s: ≤ 1.05 × allowed", "snatch FAILED", False)
        else:
            row(f"rate 20/s over {round(r['allowed'] * 20)} segments: ≤ 1.05 × {r['allowed']:.2f} s",
                f"{r['median']:.2f} s = {r['median'] / r['allowed']:.3f} ×", r["median"] <= 1.05 * r["allowed"])
    else:
        row("rate 20/s: ≤ 1.05 × allowed", "not run", "—")
    name = "bytes 4M/s over 30 s: average within 5 %, at the server"
    if "bytes" in s:
        b = s["bytes"]
        snatch_side = "?" if b["at_snatch"] is None else f"{b['at_snatch']:.3f}"
        row(name, f"server {b['ratio']:.3f} × the limit (snatch {snatch_side} ×); "
                  f"fullest second {b['over_segments']:.2f} segments over", abs(b["ratio"] - 1.0) <= 0.05)
    else:
        row(name, "not run", "—")
    for scen, factor in (("a-nginx", 1.10), ("b-nginx", 1.25)):
        name = f"{scen}, no latency: snatch ≤ {factor:.2f} × ffmpeg reading the playlist"
        if scen not in s:
            row(name, "not run", "—")
            continue
        m = snatch_med(scen)
        ff = s[scen]["results"].get("ffmpeg-hls")
        if m is None:
            row(name, "snatch FAILED", False)
        elif ff is None or ff.median is None:
            row(name, f"snatch {m:.2f} s; ffmpeg {'FAILED' if ff else 'absent'}", "—")
        else:
            row(name, f"snatch {m:.2f} s vs ffmpeg {ff.median:.2f} s = {m / ff.median:.2f} ×",
                m <= factor * ff.median)
    for scen in ("a-50ms", "b-50ms", "playlist", "dash", "a-nginx", "b-nginx"):
        base = s.get(scen, {}).get("results", {}).get("snatch-base")
        if base is None:
            continue
        m, b = snatch_med(scen), base.median
        name = f"{scen}: snatch no slower than the baseline binary (≤ 1.05 ×, the noise)"
        if m is None or b is None:
            row(name, f"snatch {fmt_s(m)}, baseline {fmt_s(b)}", False if m is None else "—")
        else:
            row(name, f"snatch {m:.2f} s vs baseline {b:.2f} s = {m / b:.2f} ×", m <= 1.05 * b)
    if "rss" in s:
        for (label, count), r in s["rss"].items():
            name = f"peak RSS < {RSS_LIMIT_MIB:.0f} MiB at {count} segments ({label})"
            if r.get("error"):
                row(name, r["error"], False)
            else:
                row(name, f"snatch max {r['own_mib']:.1f} MiB of {len(r['own_runs'])} run(s) "
                          f"(time -v, with children: {r['time_mib']:.1f} MiB)",
                    r["own_mib"] < RSS_LIMIT_MIB)
    else:
        row(f"peak RSS < {RSS_LIMIT_MIB:.0f} MiB", "not run", "—")
    name = f"one {AES_MB} MB AES-128 segment: peak RSS ≤ the clear one's + {AES_SLACK_MIB:.0f} MiB"
    aes = s.get("rss_aes")
    if not aes:
        row(name, "not run", "—")
    elif "error" in aes["aes"] or "error" in aes["clear"]:
        row(name, aes["aes"].get("error") or aes["clear"]["error"], False)
    else:
        e, c = aes["aes"]["own_mib"], aes["clear"]["own_mib"]
        row(name, f"snatch {e:.1f} MiB encrypted, {c:.1f} MiB clear", e <= c + AES_SLACK_MIB)
    for cmd, r in s.get("playlist-memory", {}).items():
        name = f"`{cmd}` of a {PLAYLIST_SEGMENTS:,}-segment playlist: peak RSS < {PLAYLIST_RSS_LIMIT_MIB:.0f} MiB"
        if "error" in r:
            row(name, r["error"], False)
        else:
            row(name, f"{r['mib']:.1f} MiB", r["mib"] < PLAYLIST_RSS_LIMIT_MIB)
    if "cli" in s:
        for sub, r in s["cli"].items():
            name = f"`snatch {sub}` of 5,000 jobs < 1 s"
            if "error" in r:
                row(name, r["error"], False)
            else:
                row(name, f"{r['median']:.3f} s", r["median"] < 1.0)
    else:
        row("validate and plan of 5,000 jobs < 1 s", "not run", "—")


# --------------------------------------------------------------------------


def versions(snatch: Path) -> list[str]:
    def v(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            return last_line((r.stdout or r.stderr).splitlines()[0] if (r.stdout or r.stderr) else "")
        except (OSError, subprocess.TimeoutExpired):
            return "absent"
    git = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip() or "?"
    return [
        f"snatch: {v([str(snatch), '--version'])} (git {git})",
        f"curl: {v(['curl', '--version']) if shutil.which('curl') else 'absent'}",
        f"aria2c: {v(['aria2c', '--version']) if shutil.which('aria2c') else 'absent'}",
        f"yt-dlp: {v(['yt-dlp', '--version']) if shutil.which('yt-dlp') else 'absent'}",
        f"ffmpeg: {v(['ffmpeg', '-version'])}",
        f"nginx: {v(['nginx', '-v']) if shutil.which('nginx') else 'absent'}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description="snatch vs curl, aria2c, yt-dlp, ffmpeg on loopback")
    ap.add_argument("--rounds", type=int, default=None, help="rounds per scenario (default 3, 1 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="small sets (30 and 200 segments) and 1 round unless --rounds: a smoke run")
    ap.add_argument("--only", default="", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    ap.add_argument("--latency-ms", type=int, default=50, help="segment-server latency (default 50)")
    ap.add_argument("--keep-work", action="store_true", help="keep target/bench-work/ (job files, nginx.conf)")
    # cargo puts the binaries in $CARGO_TARGET_DIR when it is set (run.sh's build included).
    release = Path(os.environ.get("CARGO_TARGET_DIR") or TARGET) / "release"
    ap.add_argument("--snatch", default=str(release / "snatch"))
    ap.add_argument("--segment-server", default=str(release / "examples" / "segment-server"))
    ap.add_argument("--baseline", default=None,
                    help="another snatch binary (an earlier build) timed beside snatch in every scenario")
    args = ap.parse_args()
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    only = [x.strip() for x in args.only.split(",") if x.strip()] or SCENARIOS
    bad = [x for x in only if x not in SCENARIOS]
    if bad:
        ap.error(f"unknown scenario(s) {bad}; choose from {SCENARIOS}")

    # One benchmark at a time on this machine: two would skew each other's
    # timings and write the same results file.
    TARGET.mkdir(exist_ok=True)
    # (run.sh takes the lock before building and says so in BENCH_LOCK_HELD.)
    if os.environ.get("BENCH_LOCK_HELD") != "1":
        lock = open(TARGET / "bench.lock", "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("another benchmark run holds target/bench.lock; waiting for it to finish ...", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)

    global out
    out = Out(RESULTS)

    for need in ("ffmpeg", "ffprobe"):
        if not shutil.which(need):
            sys.exit(f"{need} is required (apt-get install -y ffmpeg)")
    for b in (args.snatch, args.segment_server):
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} is missing: cargo build --release --bin snatch --example segment-server")

    work = TARGET / "bench-work" / f"run-{os.getpid()}"
    work.mkdir(parents=True)

    def cleanup():
        stop_all()
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
            try:
                (TARGET / "bench-work").rmdir()
            except OSError:
                pass

    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    # Private copies: other people may rebuild target/release while this runs.
    bindir = work / "bin"
    bindir.mkdir()
    snatch = Path(shutil.copy2(args.snatch, bindir / "snatch"))
    server_bin = Path(shutil.copy2(args.segment_server, bindir / "segment-server"))
    if args.baseline:
        if not os.access(args.baseline, os.X_OK):
            sys.exit(f"--baseline {args.baseline} is not an executable")
        BASELINE["bin"] = Path(shutil.copy2(args.baseline, bindir / "snatch-base"))
    own = [snatch, server_bin] + ([BASELINE["bin"]] if args.baseline else [])
    peers = [shutil.which(t) for t in ("ffmpeg", "ffprobe", "curl", "aria2c", "python3", "nginx")]
    warm_binaries(own + [Path(p) for p in peers if p])

    out(f"# snatch benchmark — {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}")
    out()
    out(f"Host: {platform.node()}, {os.cpu_count()} CPUs, load average at start "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {platform.platform()}")
    for line in versions(snatch):
        out(f"- {line}")
    out(f"- mode: {'quick' if args.quick else 'full'}, rounds {args.rounds}, scenarios {','.join(only)}")

    tools = ["snatch"] + (["snatch-base"] if args.baseline else [])
    if args.baseline:
        out(f"- baseline: {args.baseline}")
    for peer in PEERS:
        if shutil.which(PEER_BINARY[peer]):
            tools.append(peer)
        else:
            out(f"- SKIPPING peer {peer}: `{PEER_BINARY[peer]}` not found on PATH")
    have_nginx = shutil.which("nginx") is not None
    if not have_nginx:
        out("- SKIPPING a-nginx and b-nginx: `nginx` not found (apt-get install -y nginx)")
    have_time = os.access("/usr/bin/time", os.X_OK)
    if not have_time and "rss" in only:
        out("- SKIPPING rss: /usr/bin/time not found (apt-get install -y time)")

    if args.quick:
        A = MediaSet("A", 30, 4, 1900, 96)
        B = MediaSet("B", 200, 1, 330, 64)
        P = MediaSet("P", 30, 4, 1900, 96, hls=True)
        D = MediaSet("D", 30, 4, 2000, 96, dash=True)
    else:
        A = MediaSet("A", 300, 4, 1900, 96)
        B = MediaSet("B", 2000, 1, 330, 64)
        P = MediaSet("P", 300, 4, 1900, 96, hls=True)
        D = MediaSet("D", 300, 4, 2000, 96, dash=True)
    # The batch's set is the same size in quick and full runs (30 segments
    # of ~1.1 MB, like set A's): a quick run has fewer rounds only.
    Q = MediaSet("A", 30, 4, 1900, 96)

    out()
    out("## Media")
    out()
    need_a = any(x in only for x in ("a-50ms", "a-nginx", "rate", "bytes", "rss"))
    need_b = any(x in only for x in ("b-50ms", "b-nginx"))
    if need_a:
        make_set(A)
        out(f"- {A.describe()}")
    if need_b:
        make_set(B)
        out(f"- {B.describe()}")
    if "batch" in only:
        make_set(Q)
        batch_tree = make_batch_tree(Q)
        out(f"- {Q.describe()}; {BATCH_JOBS} jobs' URLs over it: {batch_tree.relative_to(ROOT)}")
    if "playlist" in only:
        make_set(P)
        out(f"- {P.describe()}, made by `ffmpeg -f hls` (its own index.m3u8, relative URIs)")
    if "dash" in only:
        make_set(D)
        out(f"- {D.describe()}, made by `ffmpeg -f dash` (SegmentTimeline, $Number$ names)")
    big = make_repeat_tree(A, 10) if ("rss" in only and have_time) else None
    if big:
        out(f"- {A.count * 10} symlinks cycling over set A's files: {big.relative_to(ROOT)}")
    aes = make_aes_segment(A) if ("rss" in only and have_time) else None
    if aes:
        out(f"- one {AES_MB} MB segment of set A's files, clear and AES-128: {aes.relative_to(ROOT)}")
    elif "rss" in only and have_time:
        out("- SKIPPING the AES-128 rows of rss: `openssl` not found")

    bench = Bench(args, work, snatch, server_bin)
    server_50 = nginx = None
    if any(x in only for x in ("a-50ms", "b-50ms", "playlist", "dash", "batch", "rate", "rss")):
        _, server_50 = start_segment_server(server_bin, MEDIA, args.latency_ms)
    if have_nginx and any(x in only for x in ("a-nginx", "b-nginx", "rss")):
        _, nginx = start_nginx(MEDIA, work)

    if "a-50ms" in only:
        bench.compare("a-50ms", f"A@{args.latency_ms}ms — set A from segment-server, {args.latency_ms} ms latency",
                      A, server_50, tools, args.latency_ms)
    if "b-50ms" in only:
        bench.compare("b-50ms", f"B@{args.latency_ms}ms — set B from segment-server, {args.latency_ms} ms latency",
                      B, server_50, tools, args.latency_ms)
    if "playlist" in only:
        bench.compare("playlist",
                      f"P@{args.latency_ms}ms — one HLS playlist (set P) from segment-server, "
                      f"{args.latency_ms} ms latency, every tool reading it",
                      P, server_50, [t for t in PLAYLIST_TOOLS if t in tools], args.latency_ms,
                      PLAYLIST_RUNNERS, PLAYLIST_LABELS)
    if "batch" in only:
        if not become_subreaper():
            out("- note: not a child subreaper; orphaned grandchildren's CPU would be missed")
        bench.batch(Q, batch_tree, server_50, [t for t in tools if t in BATCH_RUNNERS], args.latency_ms)
    if "dash" in only:
        # ffmpeg is required, so its DASH reader always runs; yt-dlp when present.
        dash_tools = [t for t in DASH_TOOLS if t in tools or t == "ffmpeg-dash"]
        bench.compare("dash",
                      f"D@{args.latency_ms}ms — one DASH MPD (set D) from segment-server, "
                      f"{args.latency_ms} ms latency, every tool reading it",
                      D, server_50, dash_tools, args.latency_ms, DASH_RUNNERS, DASH_LABELS)
    if "a-nginx" in only and nginx:
        bench.compare("a-nginx", "A@nginx — set A from nginx, no added latency", A, nginx, tools, None)
    if "b-nginx" in only and nginx:
        bench.compare("b-nginx", "B@nginx — set B from nginx, no added latency", B, nginx, tools, None)
    if "rate" in only:
        bench.rate(A, server_50, 20.0)
    if "bytes" in only:
        bench.bytes_limit(A, server_bin, 4_000_000, 8.0 if args.quick else 30.0)
    if "rss" in only and have_time:
        servers = []
        if nginx:
            servers.append(("nginx, no latency", nginx))
        else:
            p, url = start_segment_server(server_bin, MEDIA, 0)
            servers.append(("segment-server, no latency", url))
        if server_50:
            servers.append((f"segment-server, {args.latency_ms} ms", server_50))
        bench.rss(A, big, servers)
        if aes:
            bench.rss_aes(A, aes, *servers[0])
        bench.playlist_memory()
    if "cli" in only:
        bench.cli()

    targets(bench, args.quick, args.latency_ms)
    out()
    out(f"Load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}. "
        f"Written to {RESULTS.relative_to(ROOT)}.")


if __name__ == "__main__":
    main()
