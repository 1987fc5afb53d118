"""Name keys, NFC, slugs."""
import unicodedata

from analysis.text import is_nfc, name_key, nfc, slugify, strip_admin_prefix
from analysis.units import short_name


def test_nfd_and_nfc_names_share_a_key():
    nfd = unicodedata.normalize("NFD", "UBND phường Long Phú - tỉnh An Giang")
    assert not is_nfc(nfd)
    assert name_key(nfd) == name_key("phường Long Phú")
    assert is_nfc(nfc(nfd))


def test_tone_placement_and_case():
    assert name_key("UBND Phường An Hoà - Tỉnh Đồng Tháp") == name_key("phường An Hòa")
    assert name_key("TÂN HÒA") == name_key("Tân Hoà")
    assert name_key("UBND Xã Tân Khánh Đông") == name_key("xã Tân Khánh Đông")


def test_department_dash_is_kept():
    assert strip_admin_prefix("Sở Lao động - Thương binh và Xã hội") == "Sở Lao động - Thương binh và Xã hội"
    assert strip_admin_prefix("UBND xã Kông Bơ La - Gia Lai", ["Gia Lai"]) == "xã Kông Bơ La"
    assert strip_admin_prefix("Ủy ban nhân dân huyện Na Rì - tỉnh Bắc Kạn") == "huyện Na Rì"


def test_type_word_distinguishes_units():
    assert name_key("thành phố Cao Lãnh") != name_key("huyện Cao Lãnh")


def test_slug_and_short_name():
    assert slugify("xã Đồng Xá") == "xa-dong-xa"
    assert slugify("thị trấn Yên Lạc") == "thi-tran-yen-lac"
    assert short_name("xã Sơn Thành") == "Sơn Thành"
    assert short_name("Phường 1") == "Phường 1"
