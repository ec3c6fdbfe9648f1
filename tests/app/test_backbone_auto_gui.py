"""`backbone: auto` in the GUI (issue 13): the banner says which backbone auto chose; a model fitted with
auto is not called stale because the settings say auto and the manifest names the chosen backbone."""

import dataclasses

import inference
from app.document import stale_reasons
from gui_helpers import record_fitted_with

FITTED = inference.EngineConfig(backbone="efficientnet_lite0", input_size=224)


def test_auto_settings_match_the_backbone_auto_chose():
    settings = inference.EngineConfig(backbone="auto", input_size=224)
    assert stale_reasons(None, settings, record_fitted_with(FITTED, chosen="backbone auto: efficientnet_lite0")) == []
    # Fitted with a named backbone: settings that now say auto may pick another one, so refit.
    assert "backbone" in " ".join(stale_reasons(None, settings, record_fitted_with(FITTED)))


def test_banner_names_the_chosen_backbone(qtbot, window, fitted_project, tmp_path):
    import shutil

    folder = tmp_path / "p"
    shutil.copytree(fitted_project, folder)
    assert window.open_project(folder, ask=False)
    qtbot.waitUntil(lambda: window.session.model is not None, timeout=20000)
    assert not any(line.startswith("Backbone auto") for line in window.banner_lines())  # a named backbone
    model = window.session.model
    chosen = dataclasses.replace(model.record.backbone, chosen="backbone auto: efficientnet_lite0 (built in)")
    window.session.model = dataclasses.replace(model, record=dataclasses.replace(model.record, backbone=chosen))
    assert "Backbone auto: efficientnet_lite0 (built in)." in window.banner_lines()
