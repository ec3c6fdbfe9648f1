"""Constants the service tests share (tests/service): the project's ROI, a token, the upload limits."""

from __future__ import annotations

import json

from inference.synthetic import CENTRE, RADIUS
from inspector_service.uploads import Limits

ROI = json.dumps({"type": "circle", "cx": CENTRE[0], "cy": CENTRE[1], "r": RADIUS})
TOKEN = "s3cret-token-for-tests-0123456789"
LIMITS = Limits(max_image_bytes=200_000, max_request_bytes=3_000_000, max_images=80)
