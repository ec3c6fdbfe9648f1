"""Results over MQTT (paho-mqtt): one JSON message per result on TOPIC with QoS 1, through the outbox (a result
leaves the outbox when the broker's PUBACK arrives), and the alarm state as a retained message on TOPIC/alarm
({"active": [names], "text": "..."}; an empty list when all alarms cleared).

The station's liveness, retained on TOPIC/status: {"online": true} at every connection (birth), {"online":
false} when it stops, and the same as its last will, which the broker publishes when the station vanishes
without a word (killed, a power cut, the network gone) within 1.5 keep-alives (KEEPALIVE_S).

    MqttReceiver("mqtt://127.0.0.1:1883/line1/inspector")
"""

from __future__ import annotations

import json
import threading
import time
from typing import Optional
from urllib.parse import urlparse

from inference import InspectorError

from .outbox import DeliveryError

ACK_TIMEOUT_S = 5.0
KEEPALIVE_S = 10  # the broker gives the station up (and publishes its will) after 1.5 of these without a word
ONLINE, OFFLINE = json.dumps({"online": True}), json.dumps({"online": False})


class MqttReceiver:
    def __init__(self, url: str, client_id: Optional[str] = None):
        u = urlparse(url)
        topic = u.path.lstrip("/")
        if u.scheme != "mqtt" or not u.hostname or not topic or "#" in topic or "+" in topic:
            raise InspectorError(f"--mqtt needs mqtt://HOST:PORT/TOPIC (no wildcards), got {url!r}")
        self.target = url
        self.host, self.port, self.topic = u.hostname, u.port or 1883, topic
        self.alarm_topic = topic + "/alarm"
        self.status_topic = topic + "/status"
        import paho.mqtt.client as mqtt

        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                   clean_session=True)
        if u.username:
            self._client.username_pw_set(u.username, u.password)
        self._client.will_set(self.status_topic, OFFLINE, qos=1, retain=True)
        self._client.on_connect = self._connected
        self._client.reconnect_delay_set(0.2, 5)
        self._lock = threading.Lock()
        self._started = False

    def _connected(self, client, userdata, flags, reason_code, properties=None) -> None:
        if not reason_code.is_failure:  # birth, again after every reconnection (the will may have been sent)
            client.publish(self.status_topic, ONLINE, qos=1, retain=True)

    def start(self) -> None:
        """Connect now (the run's start), so that TOPIC/status says online before the first result."""
        self._ensure()

    def _ensure(self) -> None:
        with self._lock:
            if not self._started:
                self._client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
                self._client.loop_start()  # reconnects by itself after an outage
                self._started = True
                for _ in range(40):  # the first result need not meet a connection still being made
                    if self._client.is_connected():
                        break
                    time.sleep(0.05)

    def send(self, payload: dict) -> None:
        self._ensure()
        if not self._client.is_connected():
            raise DeliveryError(f"not connected to the broker {self.host}:{self.port}")
        info = self._client.publish(self.topic, json.dumps(payload), qos=1)
        try:
            info.wait_for_publish(ACK_TIMEOUT_S)
        except (RuntimeError, ValueError) as exc:
            raise DeliveryError(str(exc)) from None
        if not info.is_published():
            raise DeliveryError(f"no PUBACK from {self.host}:{self.port} within {ACK_TIMEOUT_S:.0f} s")

    def publish_alarm(self, active: list, text: str) -> None:
        """The alarm state, retained (a client that connects later sees it); sent when connected (QoS 1)."""
        self._ensure()
        self._client.publish(self.alarm_topic, json.dumps({"active": list(active), "text": text}), qos=1,
                             retain=True)

    def close(self) -> None:
        with self._lock:
            if self._started:
                if self._client.is_connected():  # a clean disconnect sends no will: say offline ourselves
                    info = self._client.publish(self.status_topic, OFFLINE, qos=1, retain=True)
                    try:
                        info.wait_for_publish(ACK_TIMEOUT_S)
                    except (RuntimeError, ValueError):
                        pass
                self._client.disconnect()
                self._client.loop_stop()
                self._started = False


__all__ = ["MqttReceiver"]
