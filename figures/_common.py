"""What every figure script shares: writing the PNG and the ``--out DIR`` command line."""

import argparse
from pathlib import Path


def save(fig, out_dir: Path, filename: str, **savefig_kwargs) -> Path:
    """Write ``fig`` to ``out_dir/filename`` (dpi 100 unless given), close it, return the path."""
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / filename
    fig.savefig(path, **{"dpi": 100, **savefig_kwargs})
    plt.close(fig)
    return path


def command_line(main, doc: str) -> None:
    """``python figures/fig_*.py [--out DIR]`` (default: figures/): run ``main(out_dir)`` and print the path."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="output directory")
    print(main(parser.parse_args().out))
