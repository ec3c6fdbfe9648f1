"""A real MQTT broker for tests (mosquitto on 127.0.0.1, a free port, started and stopped by the test: the `broker`
fixture in conftest.py) and clients that read what it got: the run mode's, the service's and the window's results
over MQTT are checked against it."""

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

MOSQUITTO = shutil.which("mosquitto") or (shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin"))


@contextlib.contextmanager
def running_broker(folder):
    """mosquitto on 127.0.0.1 at a free port (its configuration in `folder`); yields the port."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install -y mosquitto; .ci/run does it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def subscriber(port, topics):
    """A client subscribed to `topics` (QoS 1); (client, got): got collects (topic, JSON payload, retained)."""
    import paho.mqtt.client as mqtt

    got, ready = [], threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, u, f, rc, p=None: [c.subscribe(t, qos=1) for t in topics] and None
    client.on_subscribe = lambda *a: ready.set()
    client.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload), m.retain))
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert ready.wait(10)
    return client, got


def retained_messages(port, topic) -> list:
    """What a client connecting now gets on `topic` within 10 s: the retained message, if any."""
    late, got = subscriber(port, [topic])
    try:
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        late.loop_stop()
        late.disconnect()
    return got
