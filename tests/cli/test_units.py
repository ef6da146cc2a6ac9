"""Sizes and rates as people write them (DESIGN.md's command-line rule)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from bitswarm.cli.units import RateParam, SizeParam, format_size, parse_rate, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1000", 1000),
        ("64MiB", 64 * 1024**2),
        ("64 mib", 64 * 1024**2),
        ("1GiB", 1024**3),
        ("1.5GB", 1_500_000_000),
        ("2kB", 2000),
        ("16K", 16 * 1024),
        ("3b", 3),
    ],
)
def test_sizes(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("500KiB/s", 500 * 1024), ("2MB/s", 2_000_000), ("1000", 1000), ("1mbps", 1_000_000)],
)
def test_rates(text: str, expected: int) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["", "MiB", "-1", "12 furlongs", "1.2.3MB", "1e6"])
def test_bad_sizes_say_what_was_given(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


def test_bad_rate_says_it_is_a_rate() -> None:
    with pytest.raises(ValueError, match="not a rate: '5 parsecs/s'"):
        parse_rate("5 parsecs/s")


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (64 * 1024**2, "64 MiB"),
        (1010 * 1024, "1010 KiB"),
        (999 * 1024 + 600, "1000 KiB"),
        (5000 * 1024**4, "5000 TiB"),
    ],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


def test_parameters_convert_and_report_bad_values() -> None:
    @click.command()
    @click.option("--size", type=SizeParam())
    @click.option("--rate", type=RateParam())
    def show(size: int, rate: int) -> None:
        click.echo(f"{size} {rate}")

    runner = CliRunner()
    assert runner.invoke(show, ["--size", "1KiB", "--rate", "2kB/s"]).output == "1024 2000\n"
    bad = runner.invoke(show, ["--size", "lots", "--rate", "1"])
    assert bad.exit_code == 2
    assert "not a size: 'lots'" in bad.output
