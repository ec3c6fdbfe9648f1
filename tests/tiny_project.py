"""The tiny random model the CLI-level tests and benchmarks write as --config: DINOv2 ViT-S/14 cut to 2 blocks,
random weights, 112 px (8 x 8 tokens). Same settings as conftest's tiny_config, as YAML."""

TINY_YAML = """engine:
  backbone: dinov2_vits14
  weights: none
  backbone_kwargs: {depth: 2}
  input_size: 112
  coreset_ratio: 0.25
"""
