"""Face data: tensorflow-datasets builders and the grain input pipeline (no TensorFlow).

* ``facejax.data.builders``: builders of real datasets from a local copy (300W-LP,
  AFLW2000-3D, LFW, YouTube Faces, MICC Florence, NoW, identity folders and clips) and of the
  synthetic faces and clips rendered from a morphable model.
* ``facejax.data.pipeline``: loading, augmentation, pair sampling, device placement.
* ``facejax.data.crop``: face crops by similarity transform to a template, or from a box.
* ``facejax.data.features``: the feature spec every builder shares.

The subpackages are imported on demand: ``import facejax.data`` loads neither tfds nor grain.
See docs/datasets.md and docs/pipeline.md.
"""
