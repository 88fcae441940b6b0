#!/usr/bin/env python3
"""kill -9 under load: every acknowledged message is stored once and answered, the audit chain holds.

    cargo build --release
    python3 scripts/reliability/kill9.py                       # 1500 messages, 6 kills
    python3 scripts/reliability/kill9.py --messages 1000 --kills 15 --seed 7

Runs `frontdesk demo` (SQLite, the demo clinics with their demo WhatsApp credentials; replies go
to the demo's stand-in provider, which appends each send to dev-outbox.jsonl) and sends signed
WhatsApp webhooks from several threads, each message from a new patient, each with its own
provider id. Meanwhile it kills the server with SIGKILL at random moments and starts it again on
the same data. A delivery that fails (connection refused or reset, 5xx) is retried as Meta
retries, with the same id, until it is acknowledged.

Then, with the server idle and stopped, it checks:
  1. every acknowledged message is stored exactly once (by provider id, in the SQLite file);
  2. every acknowledged message was answered: its patient received the privacy notice and the
     answer (2 sends) at the provider;
  3. no reply was sent twice — except in the one window no provider lets us close (killed after
     the provider accepted a send and before the outbox recorded it); such repeats are counted
     and shown, not hidden;
  4. `frontdesk audit verify --all` finds every clinic's audit chain intact.
Exit status 0 only if 1, 2 and 4 hold. Bounded: --messages and --kills, and every wait has a
timeout. Loopback only.
"""

import argparse
import collections
import hashlib
import hmac
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

APP_SECRET = b"demo_app_secret"  # frontdesk_server::demo::channels::WHATSAPP_APP_SECRET
PHONE_NUMBER_ID = "100000000000001"  # the demo WhatsApp number of nairobi-family
REPLIES_PER_FIRST_MESSAGE = 2  # privacy notice + answer


def log(msg):
    print(f"[kill9 {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Server:
    def __init__(self, binary, data_dir, port):
        self.binary, self.data_dir, self.port = binary, data_dir, port
        self.proc = None
        self.starts = 0
        self.log = open(os.path.join(os.path.dirname(data_dir), "server.log"), "ab")

    def start(self):
        # The per-clinic send rate (10/s by default) would make this a test of patience: every
        # message here goes to one clinic.
        env = dict(os.environ, FRONTDESK_OUTBOUND_PER_SECOND="100000")
        self.proc = subprocess.Popen(
            [self.binary, "demo", "--data-dir", self.data_dir, "--port", str(self.port)],
            stdout=self.log,
            stderr=self.log,
            env=env,
        )
        self.starts += 1
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"frontdesk exited with {self.proc.returncode}; see server.log")
            time.sleep(0.05)
        raise SystemExit("frontdesk did not answer /healthz within 60 s")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def signed_delivery(i):
    phone = f"2547{i:08d}"
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "KILL9",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"display_phone_number": "254700000100", "phone_number_id": PHONE_NUMBER_ID},
                                "messages": [
                                    {
                                        "from": phone,
                                        "id": f"wamid.kill9.{i}",
                                        "timestamp": "1764547200",
                                        "type": "text",
                                        "text": {"body": "Hi, when are you open on Saturday?"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        },
        separators=(",", ":"),
    ).encode()
    sig = "sha256=" + hmac.new(APP_SECRET, body, hashlib.sha256).hexdigest()
    return phone, body, sig


def deliver(port, i, stop_at):
    """Posts delivery i until it is acknowledged (200) or stop_at passes; returns attempts or None."""
    _, body, sig = signed_delivery(i)
    attempts = 0
    while time.time() < stop_at:
        attempts += 1
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/whatsapp",
            data=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                if r.status == 200:
                    return attempts
        except urllib.error.HTTPError as e:
            if e.code < 500:
                raise SystemExit(f"delivery {i} refused with {e.code}: {e.read()[:200]!r}")
        except (urllib.error.URLError, ConnectionError, OSError):
            pass  # the server is down (killed): retry, as Meta does
        time.sleep(0.1)
    return None


def sends_by_phone(outbox_path):
    counts = collections.Counter()
    if not os.path.exists(outbox_path):
        return counts
    with open(outbox_path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
                req = json.loads(entry["request"])
            except (ValueError, KeyError):
                continue  # a line cut by a kill mid-write
            to = req.get("to")
            if to:
                counts[to.lstrip("+")] += 1
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="target/release/frontdesk")
    ap.add_argument("--messages", type=int, default=1500)
    ap.add_argument("--kills", type=int, default=6)
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--port", type=int, default=18089)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    binary = args.binary
    if not os.path.exists(binary):
        # The workspace's target dir may be elsewhere (CARGO_TARGET_DIR / .cargo/config).
        out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], capture_output=True, text=True)
        if out.returncode == 0:
            candidate = os.path.join(json.loads(out.stdout)["target_directory"], "release", "frontdesk")
            if os.path.exists(candidate):
                binary = candidate
    if not os.path.exists(binary):
        raise SystemExit(f"{binary} not found: run `cargo build --release` first")
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="frontdesk-kill9-")
    data_dir = os.path.join(work, "data")
    log(f"data in {data_dir}; {args.messages} messages from {args.senders} senders; {args.kills} kills")
    server = Server(binary, data_dir, args.port)
    server.start()

    next_i = iter(range(args.messages))
    lock = threading.Lock()
    acked, attempts_total = set(), [0]
    stop_at = time.time() + 600
    done = threading.Event()

    def sender():
        while True:
            with lock:
                i = next(next_i, None)
            if i is None:
                return
            n = deliver(args.port, i, stop_at)
            with lock:
                if n is not None:
                    acked.add(i)
                    attempts_total[0] += n

    threads = [threading.Thread(target=sender) for _ in range(args.senders)]
    for t in threads:
        t.start()

    kills = 0
    while kills < args.kills and any(t.is_alive() for t in threads):
        time.sleep(rng.uniform(0.2, 1.2))
        server.kill9()
        kills += 1
        with lock:
            so_far = len(acked)
        log(f"kill -9 #{kills} after {so_far} acknowledged; restarting")
        server.start()
    for t in threads:
        t.join(timeout=620)
    done.set()
    log(f"all sent: {len(acked)} of {args.messages} acknowledged ({attempts_total[0]} posts); waiting for replies")

    outbox = os.path.join(data_dir, "dev-outbox.jsonl")
    # A worker killed while holding rows leaves them leased: another worker takes them when the
    # lease (2 minutes) runs out, so allow for that.
    deadline = time.time() + 300
    while time.time() < deadline:
        sends = sends_by_phone(outbox)
        missing = [i for i in acked if sends[f"2547{i:08d}"] < REPLIES_PER_FIRST_MESSAGE]
        if not missing:
            break
        time.sleep(1.0)
    log(f"replies settled {time.time() - deadline + 300:.0f} s after the last acknowledgement")
    time.sleep(1.0)  # anything still in flight lands (and would show as a repeat)
    server.stop()

    sends = sends_by_phone(outbox)
    lost = sorted(i for i in acked if sends[f"2547{i:08d}"] < REPLIES_PER_FIRST_MESSAGE)
    repeated = sorted(i for i in acked if sends[f"2547{i:08d}"] > REPLIES_PER_FIRST_MESSAGE)

    db = sqlite3.connect(os.path.join(data_dir, "frontdesk.db"))
    stored = collections.Counter(
        pid
        for (pid,) in db.execute(
            "SELECT provider_message_id FROM messages WHERE direction = 'inbound' AND provider_message_id LIKE 'wamid.kill9.%'"
        )
    )
    db.close()
    not_stored = sorted(i for i in acked if stored[f"wamid.kill9.{i}"] == 0)
    stored_twice = sorted(i for i in acked if stored[f"wamid.kill9.{i}"] > 1)

    verify = subprocess.run(
        [binary, "audit", "verify", "--all", "--data-dir", data_dir], capture_output=True, text=True
    )
    print(verify.stdout.strip())
    if verify.stderr.strip():
        print(verify.stderr.strip(), file=sys.stderr)

    print()
    print(f"server starts            : {server.starts} ({kills} kill -9)")
    print(f"acknowledged             : {len(acked)} of {args.messages}")
    print(f"stored exactly once      : {len(acked) - len(not_stored) - len(stored_twice)}"
          f"  (not stored: {len(not_stored)}, stored twice: {len(stored_twice)})")
    print(f"answered (notice+answer) : {len(acked) - len(lost)}  (lost: {len(lost)})")
    print(f"a reply sent twice       : {len(repeated)}  (the provider accepted it just before a kill)")
    print(f"audit chains             : {'intact' if verify.returncode == 0 else 'BROKEN'}")
    ok = not lost and not not_stored and not stored_twice and verify.returncode == 0 and len(acked) == args.messages
    print("RESULT:", "PASS" if ok else "FAIL", f"(data kept in {work})" if not ok else "")
    if ok:
        subprocess.run(["rm", "-rf", work])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
