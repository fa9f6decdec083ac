"""Course commands: profile (code in a course's own interface) and train."""

from __future__ import annotations

from pathlib import Path


def add_profile(sub):
    import argparse

    from ..profiles import get, names
    rows = [(n, get(n).filename, get(n).doc) for n in names()]
    wide = [max(len(row[i]) for row in rows) for i in (0, 1)]
    listing = "\n".join(f"  {n:<{wide[0]}}  {f:<{wide[1]}}  {doc}" for n, f, doc in rows)
    p = sub.add_parser("profile", help="write code in a course's own interface (" + ", ".join(names()) + ")",
                       epilog="profiles:\n" + listing, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="PROFILE", help="one of: " + ", ".join(names()))
    p.add_argument("--spec", metavar="SPEC|NAME", default=None,
                   help="a spec file or bundled name (default: the profile's own bundled spec)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write into")
    p.add_argument("--force", action="store_true", help="replace a file symgrad did not generate")
    p.set_defaults(func=cmd_profile)


def cmd_profile(args) -> int:
    from ..io import write_all
    from ..profiles import render_files
    files = {Path(args.output) / name: text for name, text in render_files(args.name, args.spec).items()}
    write_all(files, force=args.force, root=Path(args.output))
    for path in files:
        print(f"wrote {path}")
    return 0


def add_train(sub):
    from ..train import DECAYS
    p = sub.add_parser("train", help="minibatch SGD with the generated gradients; loss per epoch and a PNG curve")
    p.add_argument("spec", metavar="SPEC|NAME", help="a spec file (TOML) or the name of a bundled spec")
    p.add_argument("--data", required=True, metavar="FILE.npz|NAME",
                   help="training data: one array per input with a leading example axis, or a bundled set")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.05, help="learning rate")
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="seeds the initial parameters and the shuffling")
    p.add_argument("--decay", choices=DECAYS, default="none",
                   help="learning-rate schedule: constant, or annealed linearly to 0 over the run")
    p.add_argument("--plot", metavar="FILE.png", default=None,
                   help="where to write the loss curve (default: SPEC_loss.png in the current folder)")
    p.add_argument("--no-plot", action="store_true", help="write no loss curve (no matplotlib needed)")
    p.add_argument("--save", metavar="FILE.npz", default=None, help="write the trained parameters")
    p.add_argument("--force", action="store_true", help="replace files symgrad did not write")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    import io

    import numpy as np

    from ..io import check_writable, write_atomic
    from ..spec import load_spec
    from ..train import plot_losses, progress_bar, pyplot, train
    name = load_spec(args.spec).name
    plot = None if args.no_plot else Path(args.plot or f"{name}_loss.png")
    if plot is not None:
        pyplot()  # fail before training, not after, when matplotlib is missing
    check_writable([p for p in (plot, args.save and Path(args.save)) if p], force=args.force)
    history = train(args.spec, args.data, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                    seed=args.seed, decay=args.decay, progress=progress_bar())
    print(f"{history.spec}: {history.epochs} epochs, lr {history.lr:g} ({history.decay} decay), "
          f"batch size {history.batch_size}, seed {history.seed}, {history.seconds:.1f} s")
    print("epoch  training loss")
    for epoch, loss in enumerate(history.losses):
        print(f"{epoch:>5}  {loss:.6g}")
    if history.train_accuracy is not None:
        print(f"training accuracy {history.train_accuracy:.1%}")
    if history.test_loss is not None:
        line = f"held-out loss {history.test_loss:.6g}"
        if history.test_accuracy is not None:
            line += f", held-out accuracy {history.test_accuracy:.1%}"
        print(line)
    if plot is not None:
        plot_losses(history, plot)
        print(f"wrote {plot}")
    if args.save:
        buffer = io.BytesIO()
        np.savez(buffer, **history.params)
        write_atomic(args.save, buffer.getvalue())
        print(f"wrote {args.save}")
    return 0


COMMANDS = [add_profile, add_train]
