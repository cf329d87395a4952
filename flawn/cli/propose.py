"""``flawn propose``: the next mixtures to run, fitted on a finished sweep, as an experiment."""

from __future__ import annotations

import argparse

from flawn.errors import FlawnError

_SHARE = "COMPONENT=SHARE, e.g. legal=0.1"


def _pairs(items: list[str] | None, flag: str, expected: str, convert=str) -> dict:
    """``KEY=VALUE`` arguments as a dict, or a FlawnError naming the bad one and ``expected``."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        try:
            out[key] = convert(value)
        except ValueError:
            sep = ""
        if not sep or not key:
            raise FlawnError(f"{flag} {item!r}: expected {expected}")
    return out


def _table(frame, index: str) -> str:
    """A Markdown table with three decimals and a named first column."""
    frame = frame.copy()
    frame.index.name = index
    return frame.to_markdown(floatfmt=".3f")


def _cmd_propose(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    import os

    from flawn.propose.next_sweep import ProposalSettings, describe_limits, propose_next
    from flawn.runtime import quiet_native_stderr

    # The written file is checked by loading it, which registers mixtures: flawn's tasks.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_stderr():
        import flawn.tasks  # noqa: F401

    try:
        settings = ProposalSettings(
            objective=args.objective,
            k=args.k,
            by=args.by,
            min_general=args.min_general,
            lower=_pairs(args.min, "--min", _SHARE, float),
            upper=_pairs(args.max, "--max", _SHARE, float),
            view=args.view,
            exclude=tuple(args.exclude or ()),
            method=args.method,
            seed=args.seed,
        )
        result = propose_next(
            args.sweep,
            args.out,
            settings,
            experiment=args.experiment,
            bindings=bindings,
            name=args.name,
            force=args.force,
            mode=args.mode,
            where=_pairs(args.where, "--where", "AXIS=VALUE, e.g. size=small") or None,
            n_resamples=args.resamples,
            allow_missing=args.allow_missing,
        )
    except (ValueError, KeyError, FileExistsError) as err:
        raise FlawnError(err.args[0] if err.args else str(err)) from err
    observed, proposal = result.observations, result.proposal
    level = f"{observed.level:.0%}"
    print(
        f"{observed.sweep}: {len(observed.mixtures)} mixture(s) observed, {observed.objective} "
        f"({observed.mode}), shares by {observed.by}\n"
    )
    table = observed.frame().drop(columns=["se", "n_seeds"])
    print(_table(table, "mixture"))
    print(f"\nmodel: {proposal.kernel}")
    print(
        f"best observed (predicted): {proposal.best_observed:.2f}; "
        f"proposals by {'expected improvement' if proposal.method == 'ei' else 'Thompson sampling'}"
        f", {level} intervals of each mixture's true score (within the score's range):\n"
    )
    frame = proposal.frame()
    frame.index = [f"{result.path.stem}.p{i:02d}" for i in frame.index]
    print(_table(frame, "proposal"))
    limits = describe_limits(settings, result.excluded)
    if limits:
        print(f"\nlimits: {limits}")
    if result.unjudged:
        print(
            f"note: the view cannot judge {len(result.unjudged)} legal source(s) outside the "
            f"LawInstruct catalog, which keep their shares: {', '.join(result.unjudged)}"
        )
    for note in observed.notes:
        print(f"note: {note}")
    print(
        f"\nwritten: {result.path} (same sizes, seeds, steps and batch size as {observed.sweep}: "
        "each run costs what its runs did)"
    )
    print(f"next: flawn sweep plan {result.path}  then  flawn sweep launch {result.path}")
    return 0


def add_parsers(sub) -> None:
    """Adds ``propose`` to the ``flawn`` command."""
    propose = sub.add_parser(
        "propose",
        help="the next mixtures to try, fitted on a finished sweep, as a launchable experiment",
        description="Fits the objective score against each mixture's realised shares (a "
        "Gaussian process on sqrt(shares) with each score's bootstrap standard error as its "
        "noise), proposes the next K mixtures by batch expected improvement within the limits "
        "given, and writes them as a new experiment file: the source sweep's sizes, seeds, "
        "steps, batch size, evaluations and baseline, plus the proposed mixtures defined by "
        "per-source weights, each with its predicted score and interval in the header. "
        "See docs/proposal.md.",
    )
    propose.add_argument(
        "sweep", nargs="+", metavar="SWEEP", help="the finished sweep's folder (or its run folders)"
    )
    propose.add_argument(
        "--objective",
        required=True,
        help="SUITE.overall or SUITE.<category>, e.g. legalbench.overall, "
        "legalbench.interpretation, sample.overall (an unknown one lists the sweep's)",
    )
    propose.add_argument("--k", type=int, default=8, help="mixtures to propose (default 8)")
    propose.add_argument("--out", required=True, help="the experiment file to write")
    propose.add_argument(
        "--by",
        choices=("group", "source"),
        default="group",
        help="shares of legal vs general data, each keeping the proportions of its sources "
        "(default), or one share per source",
    )
    propose.add_argument(
        "--min-general",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="smallest share of general data in every proposal (e.g. 0.2)",
    )
    propose.add_argument(
        "--min",
        action="append",
        metavar="COMPONENT=SHARE",
        help="smallest share of a component (legal/general with --by group; repeatable)",
    )
    propose.add_argument(
        "--max", action="append", metavar="COMPONENT=SHARE", help="largest share of a component"
    )
    propose.add_argument(
        "--view",
        help="a LawInstruct licence x language view (english_commercial, english_research, "
        "multilingual_commercial, multilingual_research): catalog subsets outside it get 0",
    )
    propose.add_argument(
        "--exclude",
        action="append",
        metavar="PATTERN",
        help="sources to give share 0 (fnmatch pattern, e.g. 'lawinstruct.bva_*'; repeatable)",
    )
    propose.add_argument(
        "--method", choices=("ei", "thompson"), default="ei", help="batch selection (default ei)"
    )
    propose.add_argument("--seed", type=int, default=0, help="seed of candidates and draws")
    propose.add_argument(
        "--experiment", help="the source sweep's experiment file (default: its manifest's)"
    )
    propose.add_argument(
        "--name", help="the new sweep's name and its mixtures' prefix (default: --out's file name)"
    )
    propose.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    propose.add_argument(
        "--mode", choices=("generation", "rank_classification"), help="the scoring mode"
    )
    propose.add_argument(
        "--where",
        action="append",
        metavar="AXIS=VALUE",
        help="the group of runs to fit when the sweep has several (e.g. size=small)",
    )
    propose.add_argument(
        "--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)"
    )
    propose.add_argument(
        "--allow-missing",
        action="store_true",
        help="fit without runs that lack a current evaluation (listed), instead of stopping",
    )
    propose.set_defaults(handler=_cmd_propose)
