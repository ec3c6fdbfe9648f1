"""A client's retry gets its first answer (station/resends.py): the same bytes for the same part, to the same model,
soon after; anything else is inspected again. (Over real HTTP: tests/service/test_service_records.py.)"""

import numpy as np

from inference import InferenceResult, Verdict
from station import Outcome
from station.resends import KEEP_S, Resends


def _outcome(row_id, model_id="m1", verdict=Verdict.NG, expected=None):
    """An outcome as the service finishes one, its anomaly map at a camera's resolution."""
    result = InferenceResult("p.png", 3.0, np.zeros((2048, 2448), np.float32), np.ones((2048, 2448), bool),
                             (0, 0, 2448, 2048), (16, 16), verdict=verdict, threshold=2.0, reason="score 3 >= 2")
    return Outcome("p.png", verdict, "score 3 >= 2", 3.0, 2.0, "v4", model_id, "SN-1", result=result,
                   row_id=row_id, expected=expected)


def test_only_the_same_image_for_the_same_part_to_the_same_model_soon_after_is_answered_again():
    now = [100.0]
    resends = Resends(clock=lambda: now[0])
    first = _outcome(7)
    resends.remember("d1", "SN-1", first)
    answer = resends.answered("d1", "sn-1", "m1")  # the PLC's id as it pads or cases it
    assert answer.result == first.to_dict() and (answer.verdict, answer.row_id, answer.production) == \
        (Verdict.NG, 7, True)
    assert "heatmap_png_base64" not in answer.result  # kept without the map: a camera's is tens of MB
    resends.remember("d9", "RR-1", _outcome(8, expected=Verdict.NG))
    assert not resends.answered("d9", "RR-1", "m1").production  # a master part's check: outside the counts
    assert resends.answered("d1", "SN-2", "m1") is None  # another part: the frozen camera's check decides
    assert resends.answered("d2", "SN-1", "m1") is None  # a new image of that part: inspected
    assert resends.answered("d1", "SN-1", "m2") is None  # another model answers now: judged by it
    assert resends.answered("d1", None, "m1") is None  # without a part id a retry and a frozen camera look alike
    now[0] += KEEP_S + 1
    assert resends.answered("d1", "SN-1", "m1") is None  # long after: a part sent again is inspected again


def test_an_outcome_without_a_history_row_is_no_answer_and_the_oldest_go_first():
    resends = Resends(keep=2)
    resends.remember("d0", "SN-0", _outcome(None))  # not recorded (the disk full): its retry is inspected
    assert resends.answered("d0", "SN-0", "m1") is None
    for i in range(1, 4):
        resends.remember(f"d{i}", f"SN-{i}", _outcome(i))
    assert resends.answered("d1", "SN-1", "m1") is None  # beyond the last two
    assert [resends.answered(f"d{i}", f"SN-{i}", "m1").row_id for i in (2, 3)] == [2, 3]


def test_an_idempotency_key_answers_its_request_again_and_refuses_another():
    import pytest

    from inspector_service.errors import ApiError
    from inspector_service.idempotency import KEEP_S, RequestKeys

    now = [0.0]
    keys = RequestKeys(keep=2, clock=lambda: now[0])
    request = ("disc", "line", ("d1",), (None,))
    assert keys.begin("k1", request) is None  # new: in flight
    with pytest.raises(ApiError) as busy:
        keys.begin("k1", request)  # its retry while it is inspected: wait, never a second inspection
    assert busy.value.status == 409
    keys.finish("k1", {"results": [{"row_id": 5}]})
    assert keys.begin("k1", request) == {"results": [{"row_id": 5}]}
    with pytest.raises(ApiError) as other:
        keys.begin("k1", ("disc", "line", ("d2",), (None,)))
    assert other.value.status == 422
    assert keys.begin("k2", request) is None
    keys.abandon("k2")  # the request failed: its key is free again
    assert keys.begin("k2", request) is None
    now[0] += KEEP_S + 1
    assert keys.begin("k1", ("disc", "line", ("d2",), (None,))) is None  # long after: the key is forgotten
