"""``sysprims bench``: run the benchmark suite and write a report."""

from __future__ import annotations

import click

ORDER = 50


@click.command("bench")
@click.option("--quick", "profile", flag_value="quick", default=True,
              help="quick profile (200k keys; under 3 minutes on 2 cores) [default]")
@click.option("--full", "profile", flag_value="full", help="full profile (10M keys; under 30 minutes)")
@click.option("--profile", "profile", type=click.Choice(["tiny", "quick", "full"]),
              help="pick a profile by name (tiny: a few seconds, for tests)")
@click.option("--only", default=None, help="comma-separated components, e.g. bloom,cms,ratelimit")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False), default="bench-report",
              show_default=True, help="directory for report.md, results.json and the PNG plots")
@click.option("--name", "name", default=None,
              help="write NAME.json, NAME.md and NAME/*.png instead of results.json, report.md and *.png")
@click.option("--no-plots", is_flag=True, help="skip the matplotlib plots")
@click.option("--from-json", "from_json", type=click.Path(exists=True, dir_okay=False), default=None,
              help="do not run: re-render the report (and README table) from this results.json")
@click.option("--update-readme", "readme", type=click.Path(exists=True, dir_okay=False), default=None,
              help="rewrite the generated table between the bench-table markers of this README")
@click.option("--compare", "compare", type=click.Path(exists=True, dir_okay=False), default=None,
              help="also print the per-case change from this older results.json to this run")
@click.option("--seed", type=int, default=42, show_default=True, help="seed of the generated data")
@click.option("--list", "list_components", is_flag=True, help="list the components and exit")
def COMMAND(profile: str, only: str | None, output: str, name: str | None, no_plots: bool, from_json: str | None,
            readme: str | None, compare: str | None, seed: int, list_components: bool) -> None:
    """Run sysprims and every installed peer on the same generated data, and
    write report.md (machine, CPU, versions, date), results.json and PNG plots.

    Speed is the median ns per key/op over repeats, next to memory, accuracy
    and the ratio to the fastest contender of the same call shape. Missing
    peers are listed as skipped. With --compare old.json, the per-case change
    between that run and this one (or the --from-json one) is printed too.
    """
    from ..bench import component_names, render_outputs, run_bench
    from ..bench.report import load_results, update_readme

    if list_components:
        click.echo(" ".join(component_names()))
        return
    if from_json:
        data = load_results(from_json)
        source = from_json
    else:
        comps = [s.strip() for s in only.split(",") if s.strip()] if only else None
        click.echo(f"sysprims bench: profile {profile}, writing to {output}/", err=True)
        data = run_bench(profile, only=comps, seed=seed, log=lambda m: click.echo(m, err=True))
        source = f"{output}/{name or 'results'}.json"
    paths = render_outputs(data, output, plots=not no_plots, name=name)
    from ..bench.report import render_summary_table

    click.echo(render_summary_table(data))
    click.echo(f"\nwrote {paths['report']}, {paths['results']} and {len(paths['plots'])} plot(s) "
               f"in {data['meta'].get('duration_s', 0):.0f} s")
    if compare:
        from ..bench.report import render_comparison

        click.echo(f"\nchange from {compare} (change > 0: slower now)")
        click.echo(render_comparison(load_results(compare), data))
    if readme:
        changed = update_readme(readme, data, source=source)
        click.echo(f"{readme}: benchmark table {'updated' if changed else 'already up to date'}")
