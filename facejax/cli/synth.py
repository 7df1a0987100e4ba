"""``facejax synth --out DIR``: build the synthetic faces and clips datasets."""

from __future__ import annotations

DATASETS = ("faces", "clips")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="build the synthetic faces and clips datasets (tfds array_record)",
        description="Renders the synthetic face datasets (facejax_synthetic_faces, "
        "facejax_synthetic_clips) with exact 3D ground truth into DIR, with a progress bar, and "
        "says where they are and how to read them. Configs: tiny (32 px, seconds), small "
        "(64 px, a few minutes on a laptop CPU), full (112 px, for GPUs); the faces alone also "
        "small_frontal, medium_frontal and tiny_people. See docs/synthetic_datasets.md.",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="tfds data_dir to build in")
    parser.add_argument(
        "--config", default="small", help="a config of every dataset built (default: small)"
    )
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help="comma-separated subset of 'faces,clips' (default: both)",
    )
    parser.add_argument("--seed", type=int, default=None, help="another seed (default: 0)")
    parser.add_argument(
        "--model",
        default=None,
        help="morphable model to render: a model file or 'synthetic[:small]' (default: the "
        "config's, the embedded model)",
    )
    parser.set_defaults(run=run)


def _datasets(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in DATASETS]
    if unknown or not names:
        raise ValueError(f"--datasets: expected names among {DATASETS}, got {text!r}")
    return list(dict.fromkeys(names))


def run(args) -> int:
    import os

    import tensorflow_datasets as tfds

    from facejax.data.builders.synthetic_builder import derived_config
    from facejax.data.builders.synthetic_clips import SyntheticClips
    from facejax.data.builders.synthetic_faces import SyntheticFaces

    classes = {"faces": SyntheticFaces, "clips": SyntheticClips}
    names = _datasets(args.datasets)
    out = os.path.abspath(os.path.expanduser(args.out))
    # Our own bars count rendered images with a total; tfds's would add one per stage.
    tfds.disable_progress_bar()
    # Every config is checked before anything is rendered.
    configs = {}
    for name in names:
        known = [config.name for config in classes[name].BUILDER_CONFIGS]
        if args.config not in known:
            raise ValueError(
                f"--config {args.config!r} is not a config of the {name} dataset (its configs: "
                f"{', '.join(known)}); pick the datasets that have it with --datasets"
            )
        configs[name] = derived_config(classes[name], args.config, seed=args.seed, model=args.model)
    built = []
    for name, config in configs.items():
        cls = classes[name]
        builder = cls(config=config, data_dir=out, file_format="array_record", progress=True)
        reused = builder.is_prepared()
        builder.download_and_prepare()
        counts = {split: info.num_examples for split, info in builder.info.splits.items()}
        built.append((builder, counts, reused))
    print()
    for builder, counts, reused in built:
        splits = ", ".join(f"{split} {n}" for split, n in sorted(counts.items()))
        state = "already built, reused" if reused else "built"
        print(f"{builder.name}/{builder.builder_config.name} ({state}): {splits}")
        print(f"  in {builder.data_dir}")
    print("\nRead them without TensorFlow:\n")
    print("  import tensorflow_datasets as tfds")
    for builder, _, _ in built:
        print(f"  builder = tfds.builder_from_directory({str(builder.data_dir)!r})")
        print('  train = builder.as_data_source(split="train")   # train[i]: a dict of arrays')
    print("\nFeatures and protocols: docs/synthetic_datasets.md")
    return 0
