"""Products, software, devices and services the model tags as organisations are none of the facets;
the company that makes them counts when the text names it, and companies acting stay (no model)."""

from __future__ import annotations

from enrich.canonical import Mention, canonical_entities


def orgs(*names: str) -> tuple[str, ...]:
    return canonical_entities([Mention(n, "ORG") for n in names]).organizations


def test_operating_systems_software_chips_devices_and_malware_are_no_organisations() -> None:
    assert orgs("LXDE", "VSCode", "PowerPoint", "Snapdragon", "Radeon", "HomeKit", "HomePod",
                "Face ID", "WannaCry", "BreachForums", "Mastodon", "Microsoft Office") == ()


def test_the_plural_of_a_product_or_a_technical_term_is_the_product() -> None:
    assert orgs("iPhones", "Macs", "iMacs", "Xboxes", "LLMs") == ()


def test_a_product_with_its_model_or_edition_is_the_product() -> None:
    assert orgs("Radeon DRM", "Apple Pay Cash", "Windows XP", "LXDE-Qt") == ()


def test_a_known_company_before_a_product_and_its_model_is_the_maker() -> None:
    assert orgs("AMD Radeon HD 8670D") == ("AMD",)


def test_a_known_company_before_a_mixed_case_word_is_the_maker() -> None:
    # Products are spelt so ("FaceTime", "FreeSync"); a company spelt so stays itself ("Google YouTube").
    assert orgs("Apple FaceTime") == ("Apple",)
    assert orgs("AMD FreeSync") == ("AMD",)
    assert orgs("Google YouTube") != ("Google",)


def test_a_device_named_in_capitals_is_no_organisation() -> None:
    assert orgs("Pro Magnetic Bluetooth Earbuds", "Slooh Space Camera") == ()


def test_computing_acronyms_are_no_organisations() -> None:
    assert orgs("SDK", "IDE", "DRM", "SSL", "LLM", "RGB") == ()


def test_companies_acting_and_makers_named_before_their_products_stay() -> None:
    assert orgs("Microsoft", "Apple", "Sonos") == ("Microsoft", "Apple", "Sonos")
    assert orgs("Adobe Flash") == ("Adobe",)
    assert orgs("Apple's iPhone") == ("Apple",)
    assert orgs("Apple's iPhones", "Apple iPhones") == ("Apple",)
    assert orgs("Google DeepMind") == ("Google DeepMind",)
