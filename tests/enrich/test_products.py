"""Products, software, devices and services the model tags as organisations are none of the facets;
the company that makes them counts when the text names it, and companies acting stay (no model)."""

from __future__ import annotations

from enrich.canonical import Mention, canonical_entities, default_rules, names_a_product_kind


def orgs(*names: str) -> tuple[str, ...]:
    return canonical_entities([Mention(n, "ORG") for n in names]).organizations


def test_operating_systems_software_chips_devices_and_malware_are_no_organisations() -> None:
    assert orgs("LXDE", "VSCode", "PowerPoint", "Snapdragon", "Radeon", "HomeKit", "HomePod",
                "Face ID", "WannaCry", "BreachForums", "Mastodon") == ()


def test_a_listed_product_named_with_its_maker_gives_the_maker() -> None:
    # The gold rules: a company named as the maker of a product counts ("Apple's iPhone" -> Apple).
    assert orgs("Microsoft Office", "Google Home", "Boeing 737") == ("Microsoft", "Google", "Boeing")


def test_the_plural_of_a_product_or_a_technical_term_is_the_product() -> None:
    assert orgs("iPhones", "Macs", "iMacs", "Xboxes", "LLMs") == ()


def test_a_product_with_its_model_or_edition_is_the_product() -> None:
    assert orgs("Radeon DRM", "Windows XP", "LXDE-Qt") == ()


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


def software(text: str, name: str) -> bool:
    start = text.index(name)
    return names_a_product_kind(text, start, start + len(name), "ORG", default_rules())


def test_a_name_installed_or_run_on_is_software() -> None:
    assert software("There's finally a Mega app for Anroid available.", "Anroid")
    assert software("A developer had installed Cursorix on the laptop.", "Cursorix")


def test_a_mixed_case_name_used_via_or_using_is_software_but_a_firm_used_so_stays() -> None:
    assert software("It supports SFZ samples via FluidSynth and more.", "FluidSynth")
    assert not software("The figures came via Brightline, a consultancy.", "Brightline")
    assert not software("She is running Acmecorp now.", "Acmecorp")
