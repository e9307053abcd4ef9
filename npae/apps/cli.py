"""The ``npae`` command: ``npae demo``, ``npae train``, ``npae explore``, ``npae gradcheck``, ``npae exercises``.

Imports are done inside each command so that ``npae --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import options

MODELS = ("dense", "conv")


def build_model(kind, code_dim, seed):
    from ..models import zoo

    if kind == "dense":
        return zoo.dense_autoencoder(code_dim=code_dim, seed=seed)
    return zoo.conv_autoencoder(code_dim=code_dim, seed=seed)


def load_data(kind, data_dir, n_train, n_test, seed):
    """Train/test images shaped for the model (dense: (N, 784); conv: (N, 1, 28, 28)) and each split's source."""
    from ..datasets import load_dataset

    n_synthetic = {"train": n_train or 12000, "test": n_test or 2000}
    splits, sources = {}, {}
    for split in ("train", "test"):
        images, _, sources[split] = load_dataset(
            "mnist", split, data_dir=data_dir, allow_synthetic_fallback=True, n_synthetic=n_synthetic[split]
        )
        limit = n_train if split == "train" else n_test
        if limit:
            images = images[:limit]
        splits[split] = images.reshape(len(images), -1) if kind == "dense" else images
    return splits["train"], splits["test"], sources


def cmd_train(args):
    from ..core.optim import Adam
    from ..io import make_folder
    from ..plots import reconstruction_rows
    from ..training.history import format_duration, plural
    from .walkthrough import save_figure

    X_train, X_test, sources = load_data(args.model, args.data_dir, args.n_train, args.n_test, args.seed)
    print(f"training data: {len(X_train)} images of {sources['train']}")
    print(f"test data: {len(X_test)} images of {sources['test']}")
    model = build_model(args.model, args.code_dim, args.seed)
    print(model)
    t0 = time.perf_counter()
    history = model.fit(X_train, epochs=args.epochs, batch_size=args.batch_size, validation_data=X_test,
                        optimizer=Adam(args.lr), seed=args.seed, verbose=1)
    seconds = time.perf_counter() - t0
    test_mse = model.evaluate(X_test)["loss"]
    make_folder(args.out, "--out")
    model.save(os.path.join(args.out, "model.npz"))
    summary = {"model": args.model, "code_dim": args.code_dim, "epochs": history.epochs,
               "train_data": sources["train"], "test_data": sources["test"], "test_mse_per_pixel": test_mse,
               "train_seconds": seconds, **history.to_dict()}
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump(summary, f, indent=1)
    shown = X_test[:10]
    fig = reconstruction_rows(
        shown.reshape(-1, 28, 28),
        {f"{args.model} AE\ncode {args.code_dim}": model.reconstruct(shown).reshape(-1, 28, 28)},
        title=f"Test digits (top) and their reconstructions (test MSE per pixel {test_mse:.4f})",
    )
    save_figure(fig, args.out, "reconstructions", synthetic=any("synthetic" in s for s in sources.values()))
    print(f"test MSE per pixel {test_mse:.5f} after {plural(history.epochs, 'epoch')} in {format_duration(seconds)}; "
          f"wrote model.npz, history.json, reconstructions.png to {args.out}")
    return 0


def cmd_demo(args):
    from .demo import run

    run(out_dir=args.out, data_dir=args.data_dir, quick=args.quick, seed=args.seed)
    return 0


def cmd_explore(args):
    from .explore import run

    run(args.folder, out_dir=args.out, size=args.size, mode=args.mode, model=args.model, code_dim=args.code_dim,
        epochs=args.epochs, vae=args.vae, tile=args.tile, quick=args.quick, seed=args.seed)
    return 0


def _size(text):
    """argparse type of ``--size`` and ``--tile``: HEIGHTxWIDTH or one number."""
    from .explore import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("size: ")) from None


def add_explore_parser(sub):
    explore = sub.add_parser(
        "explore", help="train an autoencoder on a folder of your own pictures and report the unusual ones",
        description="Load every picture under FOLDER, train an autoencoder to a small code, and write report.md "
                    "with the worst reconstructions (the outliers, by path), the best, a 2-D map of the codes "
                    "drawn with thumbnails, nearest neighbours and training curves.",
    )
    explore.add_argument("folder", type=options.folder("your pictures"), help="folder of pictures (PNG, JPEG, BMP, GIF, TIFF, WebP; sub-folders too)")
    explore.add_argument("--size", type=_size, default=(32, 32),
                         help="HEIGHTxWIDTH every picture is resized to, after a centred crop to that shape "
                              "(default: 32x32)")
    explore.add_argument("--mode", choices=("RGB", "L"), default="RGB", help="RGB colour or L grey (default: RGB)")
    explore.add_argument("--model", choices=("conv", "dense"), default="conv",
                         help="convolutional (sizes divisible by 4) or dense autoencoder (default: conv)")
    explore.add_argument("--code-dim", type=options.count, default=32, help="numbers in each picture's code (default: 32)")
    explore.add_argument("--epochs", type=options.count, default=None,
                         help="training epochs (default: enough to show the model about 50,000 pictures, 10-200)")
    explore.add_argument("--tile", type=_size, default=None,
                         help="cut every picture into tiles of HEIGHTxWIDTH pixels, each explored on its own "
                              "(for a few large photographs) (default: whole pictures)")
    explore.add_argument("--vae", action="store_true", help="also train a VAE: samples and an interpolation (default: off)")
    explore.add_argument("--out", type=options.out_folder, default="npae-explore", help="output folder (default: ./npae-explore)")
    explore.add_argument("--quick", action="store_true", help="a seconds-long check on at most 200 pictures (default: off)")
    explore.add_argument("--seed", type=options.seed, default=0, help="seed of every random choice (default: 0)")


def cmd_gradcheck(args, extra):
    from ..gradcheck.suite import main as gradcheck_main

    return gradcheck_main(extra)


def cmd_exercises(argv):
    from ..exercises.cli import main as exercises_main

    return exercises_main(argv)


DATA_DIR = options.folder("mnist/ with the four IDX files")
DATA_DIR_HELP = (
    "folder holding mnist/ with the four IDX files (default: $NPAE_DATA_DIR, then the download cache "
    "~/.cache/npae; without files or network, synthetic digits stand in and every output says so)"
)


def _subcommand(sub, name, summary, description, **kwargs):
    """A subcommand parser whose ``npae NAME --help`` starts with ``description`` (line breaks kept)."""
    return sub.add_parser(name, help=summary, description=description,
                          formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def make_parser():
    parser = argparse.ArgumentParser(prog="npae", description="Autoencoders from scratch in NumPy.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = _subcommand(
        sub, "demo", "train a dense autoencoder and a VAE and write figures and a report",
        "Train a dense autoencoder and a VAE on MNIST (about a minute on two cores), then write figures and "
        "report.md\nshowing what they learnt: reconstructions, code histograms, a t-SNE map, samples, interpolations.",
    )
    demo.add_argument("--out", type=options.out_folder, default="npae-demo", help="output folder (default: ./npae-demo)")
    demo.add_argument("--data-dir", type=DATA_DIR, default=None, help=DATA_DIR_HELP)
    demo.add_argument("--quick", action="store_true",
                      help="a seconds-long run on a small subset, which checks the command, not the findings "
                           "(default: off)")
    demo.add_argument("--seed", type=options.seed, default=0, help="seed of every random choice (default: 0)")

    train = _subcommand(
        sub, "train", "train an autoencoder on MNIST and save it",
        "Train a dense or convolutional autoencoder on MNIST with Adam and write model.npz (load it with "
        "npae.load),\nhistory.json (the losses, the data used, the time taken) and reconstructions.png.",
    )
    train.add_argument("--model", choices=MODELS, default="dense",
                       help="dense: 784-256-128-code MLP; conv: two conv+pool stages and a dense code (default: dense)")
    train.add_argument("--epochs", type=options.count, default=10, help="passes over the training images (default: 10)")
    train.add_argument("--code-dim", type=options.count, default=32, help="size of the code, the bottleneck (default: 32)")
    train.add_argument("--batch-size", type=options.count, default=200, help="images per gradient step (default: 200)")
    train.add_argument("--lr", type=options.positive_number, default=1e-3, help="Adam's learning rate (default: 0.001)")
    train.add_argument("--n-train", type=options.count, default=None,
                       help="use only the first N training images (default: all 60,000)")
    train.add_argument("--n-test", type=options.count, default=None,
                       help="use only the first N test images (default: all 10,000)")
    train.add_argument("--out", type=options.out_folder, default="npae-train", help="output folder (default: ./npae-train)")
    train.add_argument("--data-dir", type=DATA_DIR, default=None, help=DATA_DIR_HELP)
    train.add_argument("--seed", type=options.seed, default=0, help="seed of the initial weights and the shuffling (default: 0)")

    add_explore_parser(sub)

    sub.add_parser("gradcheck", help="check every gradient by finite differences (and against PyTorch, JAX); "
                                     "npae gradcheck --help lists its options", add_help=False)
    sub.add_parser("exercises", help="derive a backward pass yourself; npae checks it and names the mistake; "
                                     "npae exercises --help lists its commands", add_help=False)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = make_parser()
    if argv and argv[0] == "gradcheck":  # its own parser owns the remaining options
        return cmd_gradcheck(None, argv[1:])
    if argv and argv[0] == "exercises":  # likewise
        return cmd_exercises(argv[1:])
    args = parser.parse_args(argv)
    command = {"train": cmd_train, "explore": cmd_explore, "demo": cmd_demo}[args.command]
    return run_explained(command, args)


def run_explained(command, args):
    """Run a command; a mistake in its input (data it cannot use, a training run that diverged, a file it
    cannot write) ends it with the library's message on one line instead of a traceback.

    ``NPAE_TRACEBACK=1`` shows the traceback as well (to report a bug).
    """
    from ..training import TrainingDiverged

    try:
        return command(args)
    except (ValueError, OSError, TrainingDiverged) as exc:
        if os.environ.get("NPAE_TRACEBACK"):
            raise
        print(f"npae {args.command}: error: {exc}\n(NPAE_TRACEBACK=1 shows where it was raised)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
