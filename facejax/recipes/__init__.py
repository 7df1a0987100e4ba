"""Training recipes: each method's model, losses, data and evaluation, on top of facejax.train.

A recipe module exposes ``train_and_evaluate(config, workdir)`` and ``evaluate(config,
workdir)``; an experiment config names its recipe in ``config.recipe``. Logic lives here (so a
notebook can import it); ``experiments/`` holds only configs and READMEs.
"""

RECIPES = ("disentangle", "siamese", "cycle")


def get_recipe(name: str):
    """The recipe module called ``name``."""
    import importlib

    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
    return importlib.import_module(f"facejax.recipes.{name}")
