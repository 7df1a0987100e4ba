"""The base of facejax's builders that read a user's local copy of a dataset (tfds manual_dir).

It adds to ``tfds.core.GeneratorBasedBuilder`` only what every facejax builder repeats: the
dataset info with a metadata dict (identity names, crop options, skipped files), and the
manual_dir lookup that turns tfds' assertion into a :class:`MissingFilesError`.

``code_path = None``: tensorflow-datasets 4.9.10 computes a builder's source path through
``importlib_resources``, a backport it only installs for Python < 3.9, so on Python 3.11 any
builder defined inside a package fails on its first download_and_prepare with
``ModuleNotFoundError: importlib_resources``. The path only locates a ``checksums.tsv`` of
download URLs, which manual builders do not have.
"""

from __future__ import annotations

import tensorflow_datasets as tfds

from facejax.data.manual_files import manual_root


class ManualFaceBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base class: subclasses set ``name``, ``VERSION``, configs, instructions and features."""

    code_path = None
    HOMEPAGE = ""

    def _features(self) -> dict:
        """The feature dict of this builder and config (see ``facejax.data.features``)."""
        raise NotImplementedError

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(type(self).__doc__ or "").strip(),
            features=tfds.features.FeaturesDict(self._features()),
            homepage=self.HOMEPAGE,
            metadata=tfds.core.MetadataDict(),
        )

    def _generate_examples(self, **kwargs):
        # The builders return their own generator methods from `_split_generators`.
        raise NotImplementedError(f"{type(self).__name__} has no generic _generate_examples")

    def _manual_dir(self, dl_manager) -> str:
        """The manual_dir, or a MissingFilesError with the instructions if tfds lacks one."""
        return manual_root(dl_manager, self.name, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
