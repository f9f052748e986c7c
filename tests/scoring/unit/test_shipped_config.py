"""The leadership models and instruments shipped in config/ are valid, verbatim and traceable to their sources."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tempen_shared.tenancy.loader import load_catalog
from tempen_shared.tenancy.models import Instrument
from tests.scoring.unit.shipped import CONFIG_DIR, SOURCES_DIR, shipped_instruments, shipped_models

# SKR's nine HME statements (skr.se; Styrning confirmed by Enköpings kommun), in order.
HME_STATEMENTS = {
    "hme-1": ("motivation", "Mitt arbete känns meningsfullt."),
    "hme-2": ("motivation", "Jag lär nytt och utvecklas i mitt dagliga arbete."),
    "hme-3": ("motivation", "Jag ser fram emot att gå till arbetet."),
    "hme-4": ("ledarskap", "Min närmaste chef visar uppskattning för mina arbetsinsatser."),
    "hme-5": ("ledarskap", "Min närmaste chef visar förtroende för mig som medarbetare."),
    "hme-6": ("ledarskap", "Min närmaste chef ger mig förutsättningar att ta ansvar i mitt arbete."),
    "hme-7": ("styrning", "Jag är insatt i min arbetsplats mål."),
    "hme-8": ("styrning", "Min arbetsplats mål följs upp och utvärderas på ett bra sätt."),
    "hme-9": ("styrning", "Jag vet vad som förväntas av mig i mitt arbete."),
}
SOURCE_TEXTS = {"hjo-ledarmodell": "hjo-ledarmodell.txt", "ljungby-tillit": "ljungby-ledningsfilosofi.txt"}
INSTRUMENTS = shipped_instruments()


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_the_loader_accepts_the_shipped_models_and_instruments(tmp_path: Path) -> None:
    for kind in ("models", "instruments"):
        shutil.copytree(CONFIG_DIR / kind, tmp_path / kind)

    catalog = load_catalog(tmp_path)

    assert set(catalog.models) == {"hme", "hjo-ledarmodell", "ljungby-tillit"}
    assert set(catalog.instruments) == {"hme", "hjo-puls", "ljungby-puls"}


@pytest.mark.parametrize(
    ("instrument_id", "models", "cadence"),
    [
        ("hme", ("hme",), "annual"),
        ("hjo-puls", ("hjo-ledarmodell", "hme"), "monthly"),
        ("ljungby-puls", ("ljungby-tillit", "hme"), "quarterly"),
    ],
)
def test_instruments_feed_their_models_at_their_cadence(
    instrument_id: str, models: tuple[str, ...], cadence: str
) -> None:
    instrument = INSTRUMENTS[instrument_id]

    assert (instrument.models, instrument.cadence) == (models, cadence)


@pytest.mark.parametrize("instrument", INSTRUMENTS.values(), ids=lambda i: i.id)
def test_every_item_maps_to_a_dimension_of_its_model_and_every_dimension_has_items(instrument: Instrument) -> None:
    models = shipped_models()
    for model_id in instrument.models:
        dimensions = {d.id for d in models[model_id].dimensions}
        measured = {item.dimension for item in instrument.items_of(model_id)}
        assert measured == dimensions, model_id
    assert all(instrument.model_of(item) in instrument.models for item in instrument.items)


@pytest.mark.parametrize("instrument", INSTRUMENTS.values(), ids=lambda i: i.id)
def test_hme_items_are_skr_statements_verbatim_on_skr_scale(instrument: Instrument) -> None:
    hme_items = instrument.items_of("hme")

    assert {item.id: (item.dimension, item.text_sv) for item in hme_items} == HME_STATEMENTS
    for item in hme_items:
        scale = instrument.scale_of(item)
        assert (scale.low, scale.high, scale.not_applicable, item.reverse, item.weight) == (1, 5, (), False, 1.0)


@pytest.mark.parametrize("instrument", [INSTRUMENTS["hjo-puls"], INSTRUMENTS["ljungby-puls"]], ids=lambda i: i.id)
def test_every_own_item_quotes_a_sentence_of_its_municipality_text(instrument: Instrument) -> None:
    model_id = instrument.models[0]
    source_text = _normalised((SOURCES_DIR / SOURCE_TEXTS[model_id]).read_text("utf-8"))
    own_items = instrument.items_of(model_id)

    assert own_items
    for item in own_items:
        assert item.source.strip(), item.id
        assert _normalised(item.source) in source_text, item.id
        assert item.text_sv.strip(), item.id
        assert item.text_sv != item.source, item.id


@pytest.mark.parametrize("instrument", [INSTRUMENTS["hjo-puls"], INSTRUMENTS["ljungby-puls"]], ids=lambda i: i.id)
def test_pulses_have_three_or_four_items_per_dimension_one_reverse_coded_and_vet_ej(instrument: Instrument) -> None:
    model = shipped_models()[instrument.models[0]]
    own_items = instrument.items_of(model.id)

    for dimension in model.dimensions:
        assert 3 <= sum(1 for item in own_items if item.dimension == dimension.id) <= 4, dimension.id
    assert sum(1 for item in own_items if item.reverse) == 1
    assert instrument.scale.not_applicable == (6,)


def test_the_scoring_document_lists_every_own_item_with_its_source() -> None:
    document = _normalised((CONFIG_DIR.parent / "docs" / "scoring.md").read_text("utf-8"))

    for instrument in (INSTRUMENTS["hjo-puls"], INSTRUMENTS["ljungby-puls"]):
        for item in instrument.items_of(instrument.models[0]):
            assert f"| {item.id} |" in document, item.id
            assert _normalised(item.text_sv) in document, item.id
            assert _normalised(item.source) in document, item.id
