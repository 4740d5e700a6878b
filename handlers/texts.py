"""Every text the users read, in Bahasa Indonesia: short, friendly, saying what to do next.

They live here (not in ``bot/``) because the handlers compose the replies and arrows point down only.
"""

from __future__ import annotations

import datetime as dt

from lokal import format_rupiah, parse_phone

from models.rules.bpjs import Result
from models.rules.candidate import Finding, FindingCode
from models.rules.privacy import mask_nik_like as shown
from models.rules.registry import SOURCE_LABEL, RegistryHit
from models.rules.status import Role, Status

BULAN = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip


def tanggal(day: dt.date) -> str:
    """15 Agustus 1995."""
    return f"{day.day} {BULAN[day.month - 1]} {day.year}"


def nomor_hp(e164: str | None) -> str:
    """+6281234567890 -> 0812-3456-7890, the way people write it."""
    if not e164:
        return "-"
    return parse_phone(e164).national or e164


def kelamin(gender: str | None) -> str:
    return {"L": "laki-laki", "P": "perempuan"}.get(gender or "", "-")


ROLE_LABEL = {Role.OPERATOR: "operator desa/kelurahan", Role.CAMAT: "camat", Role.DINAS: "Diskopnaker"}

STATUS_LABEL = {
    Status.DRAFT: "belum dikirim",
    Status.MENUNGGU_CAMAT: "menunggu persetujuan camat",
    Status.MENUNGGU_DINAS: "menunggu verifikasi Diskopnaker",
    Status.DITETAPKAN: "ditetapkan ✅",
    Status.DITOLAK: "ditolak",
    Status.DIKEMBALIKAN: "dikembalikan untuk diperbaiki",
}

# ------------------------------------------------------------------------------------------ menu buttons

MENU_DAFTAR = "📝 Daftarkan pekerja"
MENU_DAFTARKU = "📋 Usulan saya"
MENU_BANTUAN = "❓ Bantuan"
MENU_ANTRIAN = "📥 Antrian"
MENU_OPERATOR = ((MENU_DAFTAR, MENU_DAFTARKU), (MENU_BANTUAN,))
MENU_APPROVER = ((MENU_ANTRIAN, MENU_BANTUAN),)

# Telegram's command menu (shown next to the text box).
COMMANDS = (
    ("daftar", "Usulkan pekerja rentan (operator desa)"),
    ("daftarku", "Usulan saya dan statusnya"),
    ("status", "Lihat satu usulan: /status U-00042"),
    ("antrian", "Usulan yang menunggu keputusan Anda (camat, Diskopnaker)"),
    ("riwayat", "Riwayat keputusan satu usulan: /riwayat U-00042"),
    ("gagal", "Pesan yang tidak terkirim (Diskopnaker)"),
    ("rekap", "Rekap usulan, kuota dan anggaran (camat, Diskopnaker)"),
    ("ringkasan", "Ringkasan 7 hari terakhir untuk wilayah Anda"),
    ("ekspor", "Unduh daftar untuk BPJS, lampiran SK, semua usulan (Diskopnaker)"),
    ("siaran", "Kirim pengumuman ke petugas wilayah Anda (camat, Diskopnaker)"),
    ("verifikasi", "Verifikasi ulang peserta aktif (penyesuaian data)"),
    ("batal", "Batalkan pengisian usulan"),
    ("bantuan", "Yang dapat saya lakukan"),
)

# -------------------------------------------------------------------------------------------- onboarding

WELCOME_UNKNOWN = (
    "Selamat datang di layanan LANJUTKAN (jaminan BPJS Ketenagakerjaan untuk pekerja rentan).\n\n"
    "Untuk memastikan Anda petugas yang terdaftar, tekan tombol 📱 Bagikan nomor HP saya di bawah."
)
SHARE_CONTACT_BUTTON = "📱 Bagikan nomor HP saya"
UNBOUND_ONLY_CONTACT = "Anda belum terdaftar di bot ini. Tekan tombol 📱 Bagikan nomor HP saya di bawah dulu."
CONTACT_NOT_OWN = (
    "Yang dibagikan harus nomor Anda sendiri. Tekan tombol 📱 Bagikan nomor HP saya, "
    "jangan memilih kontak orang lain."
)
CONTACT_BAD_NUMBER = (
    "Nomor itu tidak bisa dibaca sebagai nomor HP Indonesia. Tekan tombol 📱 Bagikan nomor HP saya."
)


def contact_not_on_roster(phone: str, admin_contact: str) -> str:
    return (
        f"Maaf, nomor {phone} belum terdaftar sebagai petugas LANJUTKAN.\n\n"
        f"Jika Anda operator desa/kelurahan, camat, atau petugas Diskopnaker, minta didaftarkan ke "
        f"{admin_contact}, lalu tekan /start lagi."
    )


def number_not_on_roster(phone: str, admin_contact: str) -> str:
    """To someone whose chat app vouches for their number (WhatsApp): nothing to share, only whom to ask."""
    return (
        f"Maaf, nomor {phone} belum terdaftar sebagai petugas LANJUTKAN.\n\n"
        f"Jika Anda operator desa/kelurahan, camat, atau petugas Diskopnaker, minta didaftarkan ke "
        f"{admin_contact}, lalu kirim pesan apa saja ke sini lagi."
    )


def phone_hidden(admin_contact: str) -> str:
    """To a WhatsApp user whose number WhatsApp does not show us (a username)."""
    return (
        "Maaf, nomor WhatsApp Anda tidak terlihat oleh bot ini karena Anda memakai nama pengguna "
        "WhatsApp. LANJUTKAN mengenali petugas hanya dari nomor HP yang terdaftar, jadi Anda belum dapat "
        "memakainya dari akun ini.\n\n"
        f"Kirim pesan dari akun WhatsApp yang menampilkan nomor Anda, atau hubungi {admin_contact}."
    )


# A person outside WhatsApp's 24-hour window got a template; their answer opens it again.
OPENED = "Terima kasih. Pesan yang menunggu Anda menyusul di bawah ini."


def bound_welcome(name: str, role: Role, region_label: str) -> str:
    return (
        f"Terima kasih, {name}. Anda terdaftar sebagai {ROLE_LABEL[role]} — {region_label}.\n\n"
        + help_text(role)
    )


def help_text(role: Role) -> str:
    if role is Role.OPERATOR:
        return (
            "Yang dapat Anda lakukan:\n"
            "• /daftar — usulkan pekerja rentan dari desa Anda\n"
            "• /daftarku — daftar usulan Anda dan statusnya\n"
            "• /status NOMOR — lihat satu usulan, misalnya /status U-00042\n"
            "• /riwayat NOMOR — siapa memutuskan apa dan kapan\n"
            "• /ringkasan — ringkasan 7 hari terakhir untuk desa Anda\n"
            "• /verifikasi — periksa ulang peserta aktif desa Anda (penyesuaian data)\n"
            "• /batal — batalkan pengisian usulan\n"
            "• /bantuan — tampilkan pesan ini"
        )
    area = "kecamatan Anda" if role is Role.CAMAT else "seluruh kabupaten"
    failed = (
        "• /gagal — pesan yang tidak terkirim ke petugas\n"
        "• /ekspor — file Excel untuk BPJS, lampiran SK Bupati, dan CSV semua usulan\n"
        if role is Role.DINAS
        else ""
    )
    return (
        "Yang dapat Anda lakukan:\n"
        "• /antrian — usulan yang menunggu keputusan Anda, terlama dulu\n"
        f"• /status NOMOR — lihat satu usulan dari {area}, misalnya /status U-00042\n"
        "• /riwayat NOMOR — siapa memutuskan apa dan kapan\n"
        "• /rekap — jumlah usulan per status, kuota dan anggaran\n"
        "• /ringkasan — ringkasan 7 hari terakhir (juga dikirim tiap minggu)\n"
        f"• /siaran — kirim pengumuman ke petugas {area}\n"
        "• /verifikasi — verifikasi ulang peserta aktif: keputusan dan kemajuannya\n"
        f"{failed}"
        "• /bantuan — tampilkan pesan ini\n\n"
        "Usulan yang perlu keputusan Anda akan dikirim ke sini."
    )


# ------------------------------------------------------------------------------------------------ intake

ONLY_OPERATORS_PROPOSE = (
    "Usulan pekerja diisi oleh operator desa/kelurahan. "
    + "Ketik /bantuan untuk melihat yang dapat Anda lakukan."
)


def intake_start(desa_label: str) -> str:
    return (
        f"Usulan baru untuk {desa_label}.\n"
        "Saya akan menanyakan 6 hal, satu per satu. Ketik /batal kapan saja untuk membatalkan."
    )


RESUMING = "Anda masih punya usulan yang belum selesai. Kita lanjutkan dari langkah terakhir:"
ASK_NIK = "1/6 · Ketik NIK calon peserta (16 digit, sesuai KTP/KK)."
ASK_NIK_AGAIN = "Ketik NIK lain, atau /batal."
ASK_NAME = "2/6 · Ketik nama lengkap sesuai KTP."


def ask_birth(birth_date: dt.date, gender: str) -> str:
    return f"3/6 · Tanggal lahir dan jenis kelamin:\n{tanggal(birth_date)}, {kelamin(gender)}.\nSudah benar?"


BIRTH_OK = "✅ Benar"
BIRTH_EDIT_DATE = "✏️ Ubah tanggal lahir"
BIRTH_EDIT_GENDER = "✏️ Ubah jenis kelamin"
ASK_BIRTH_DATE = "Ketik tanggal lahir yang benar, misalnya 15-08-1995."
ASK_GENDER = "Pilih jenis kelamin yang benar:"
GENDER_L = "Laki-laki"
GENDER_P = "Perempuan"
ASK_CATEGORY = "4/6 · Pilih pekerjaan calon peserta:"
ASK_CATEGORY_OTHER = "Ketik pekerjaannya dengan singkat, misalnya: penenun ulos."
ASK_ADDRESS = "5/6 · Ketik alamat di desa: dusun/lingkungan, RT/RW. Misalnya: Dusun II, RT 002/RW 001."
ASK_PHONE = "6/6 · Ketik nomor HP calon peserta (boleh dilewati)."
SKIP = "Lewati"
SEND = "✅ Kirim"
EDIT = "✏️ Ubah"
CANCEL = "❌ Batal"
ASK_WHICH_FIELD = "Bagian mana yang ingin diubah?"
BACK_TO_SUMMARY = "↩️ Kembali ke ringkasan"
FIELD_LABELS = {
    "nik": "NIK",
    "name": "Nama",
    "birth": "Tanggal lahir/jenis kelamin",
    "category": "Pekerjaan",
    "address": "Alamat",
    "phone": "Nomor HP",
}
CANCELLED = "Pengisian usulan dibatalkan. Tidak ada yang dikirim. Ketik /daftar untuk mulai lagi."
NOTHING_TO_CANCEL = "Tidak ada pengisian yang sedang berjalan."
PRESS_A_BUTTON = "Silakan pilih salah satu tombol di atas."
STALE_BUTTON = "Tombol itu sudah tidak berlaku."
STILL_OPEN = "Usulan Anda masih terbuka. Lanjutkan langkah berikut, atau /batal:"


def nik_read_back(
    nik: str, birth_date: dt.date, gender: str, district: str | None, regency: str | None
) -> str:
    place = ", ".join(p for p in (district and f"Kec. {district}", regency) if p) or "-"
    return f"NIK {nik} terbaca:\n• lahir {tanggal(birth_date)}\n• {kelamin(gender)}\n• diterbitkan di {place}"


NIK_ERRORS = {
    "format": "NIK harus 16 angka. Spasi, titik atau strip boleh, huruf dan simbol tidak.",
    "province": "Dua angka pertama NIK (kode provinsi) tidak dikenal.",
    "wilayah": "Kode kabupaten atau kecamatan di NIK tidak boleh 00.",
    "birth_date": "Tanggal lahir di NIK (angka ke-7 s.d. 12) tidak mungkin. Untuk perempuan tanggal ditambah 40.",
    "serial": "Empat angka terakhir NIK tidak boleh 0000.",
}


def nik_refused(codes: list[str]) -> str:
    lines = [f"• {NIK_ERRORS.get(code, 'NIK tidak valid.')}" for code in codes]
    return "NIK belum bisa diterima:\n" + "\n".join(lines) + "\n\nPeriksa KTP/KK lalu ketik ulang NIK."


def finding_text(finding: Finding) -> str:
    """One block or warning in plain words."""
    p = finding.params
    match finding.code:
        case FindingCode.ALREADY_PROPOSED:
            status = STATUS_LABEL.get(Status(p["status"]), p["status"])
            return (
                f"NIK ini sudah diusulkan dari {p['desa']}, Kec. {p['kecamatan']} "
                f"(usulan {p['number']}, {status}). Satu orang hanya boleh diusulkan sekali."
            )
        case FindingCode.ACTIVE_PARTICIPANT:
            return "NIK ini sudah menjadi peserta aktif program. Tidak perlu diusulkan lagi."
        case FindingCode.AGE_OUT_OF_RANGE:
            start = tanggal(dt.date.fromisoformat(p["coverage_start"]))
            return (
                f"Umurnya {p['age']} tahun pada awal kepesertaan ({start}); program hanya untuk umur "
                f"{p['minimum']}–{p['maximum']} tahun."
            )
        case FindingCode.NIK_OUTSIDE_KABUPATEN:
            return f"NIK diterbitkan di {p['regency']}, bukan di {p['kabupaten']}."
        case FindingCode.NIK_OTHER_KECAMATAN:
            return f"NIK diterbitkan di Kec. {p['district']}, sedangkan desa ini di Kec. {p['kecamatan']}."
        case FindingCode.BIRTH_DATE_DIFFERS:
            return (
                f"Tanggal lahir yang diisi ({tanggal(dt.date.fromisoformat(p['stated']))}) berbeda dengan "
                f"NIK ({tanggal(dt.date.fromisoformat(p['nik']))})."
            )
        case FindingCode.GENDER_DIFFERS:
            return (
                f"Jenis kelamin yang diisi ({kelamin(p['stated'])}) berbeda dengan NIK ({kelamin(p['nik'])})."
            )
        case FindingCode.NOT_IN_REGISTRY:
            return f"NIK tidak ditemukan di data registrasi sosial ({p.get('sources', 'DTSEN/DTKS/P3KE')})."
        case FindingCode.REGISTRY_NAME_DIFFERS:
            return f"Nama di {p.get('sources', 'data registrasi sosial')} berbeda dengan nama yang diisi."
        case FindingCode.DESIL_ABOVE_THRESHOLD:
            return f"Desil di data registrasi sosial {p.get('desil', '?')}, di atas batas {p.get('threshold', '?')}."
    return finding.code.value


def blocked(findings: list[Finding]) -> str:
    lines = "\n".join(f"⛔ {finding_text(f)}" for f in findings)
    return f"Calon ini tidak dapat diusulkan:\n{lines}"


def warnings_block(findings: list[Finding]) -> str:
    lines = "\n".join(f"⚠️ {finding_text(f)}" for f in findings)
    return f"Perhatian (usulan tetap bisa dikirim, camat dan Diskopnaker akan melihat catatan ini):\n{lines}"


FIELD_ERRORS = {
    "name_too_long": "Nama terlalu panjang (paling banyak 100 huruf). Ketik nama sesuai KTP.",
    "name_too_short": "Nama terlalu pendek. Ketik nama lengkap sesuai KTP.",
    "name_characters": "Nama hanya boleh berisi huruf, spasi, titik, koma atas (') dan tanda hubung. "
    "Ketik ulang nama sesuai KTP.",
    "name_nik": "Jangan tulis NIK di nama. Ketik nama lengkap sesuai KTP saja.",
    "address_nik": "Jangan tulis NIK atau nomor panjang di alamat. Cukup dusun/lingkungan dan RT/RW, "
    "misalnya: Dusun II, RT 002/RW 001.",
    "description_nik": "Jangan tulis NIK di sini. Ketik pekerjaannya saja, misalnya: penenun ulos.",
    "address_too_long": "Alamat terlalu panjang (paling banyak 200 karakter). Cukup dusun/lingkungan dan RT/RW.",
    "address_too_short": "Alamat terlalu pendek. Contoh: Dusun II, RT 002/RW 001.",
    "address_characters": "Alamat hanya boleh berisi huruf, angka, spasi dan tanda baca biasa (, . / -). "
    "Ketik ulang alamatnya.",
    "description_too_long": "Terlalu panjang (paling banyak 80 karakter). Ketik pekerjaannya dengan singkat.",
    "description_too_short": "Terlalu pendek. Ketik pekerjaannya, misalnya: penenun ulos.",
    "description_characters": "Hanya huruf, angka dan tanda baca biasa. Ketik pekerjaannya, misalnya: penenun ulos.",
    "phone_invalid": "Nomor HP tidak dikenali. Contoh: 0812 3456 7890 atau +62 812 3456 7890. "
    "Atau tekan Lewati.",
    "phone_not_mobile": "Itu nomor telepon rumah. Ketik nomor HP (diawali 08 atau +628), atau tekan Lewati.",
    "date_format": "Tanggal tidak terbaca. Tulis hari-bulan-tahun, misalnya 15-08-1995.",
    "date_impossible": "Tanggal itu tidak mungkin. Tulis hari-bulan-tahun, misalnya 15-08-1995.",
    "gender_invalid": "Pilih Laki-laki atau Perempuan dengan tombol.",
}


def summary(
    *,
    nik: str,
    name: str,
    birth_date: dt.date,
    gender: str,
    category: str,
    address: str,
    phone: str | None,
    desa_label: str,
    warnings: list[Finding],
) -> str:
    lines = [
        "Ringkasan usulan — periksa sebelum dikirim:",
        f"• NIK: {nik}",
        f"• Nama: {shown(name)}",
        f"• Lahir: {tanggal(birth_date)}, {kelamin(gender)}",
        f"• Pekerjaan: {shown(category)}",
        f"• Alamat: {shown(address)}, {desa_label}",
        f"• No HP: {nomor_hp(phone)}",
    ]
    if warnings:
        lines.append("")
        lines.extend(f"⚠️ {finding_text(f)}" for f in warnings)
    return "\n".join(lines)


def submitted(
    number: str, name: str, masked_nik: str, kecamatan: str, warning_count: int, *, resubmitted: bool = False
) -> str:
    note = f"\n⚠️ {warning_count} catatan ikut dikirim ke penyetuju." if warning_count else ""
    sent = "Perbaikan usulan" if resubmitted else "Usulan"
    return (
        f"✅ {sent} {number} terkirim: {shown(name)} (NIK {masked_nik}).{note}\n\n"
        f"Berikutnya camat Kec. {kecamatan} akan memeriksa, lalu Diskopnaker memverifikasi. "
        f"Anda akan diberi tahu setiap keputusan. Cek kapan saja dengan /status {number}."
    )


DRAFT_NO_LONGER_YOURS = (
    "Usulan yang sedang Anda isi dibatalkan: menurut daftar petugas, Anda tidak lagi operator desa itu. "
    "Tidak ada yang dikirim. Ketik /bantuan untuk melihat yang dapat Anda lakukan."
)
WHAT_TO_CORRECT = (
    "Ketik tanggal lahir yang benar (misalnya 15-08-1995) atau jenis kelamin (L/P), atau pilih tombol:"
)

# ------------------------------------------------------------------------------------------------ queries

NO_PROPOSALS = "Anda belum punya usulan. Ketik /daftar untuk mengusulkan pekerja."
ONLY_OPERATORS_LIST = "Daftar usulan saya hanya untuk operator desa. Gunakan /status NOMOR."
STATUS_USAGE = "Tulis nomor usulannya, misalnya /status U-00042."
STATUS_NOT_FOUND = (
    "Usulan itu tidak ditemukan, atau bukan dari wilayah Anda. Periksa nomornya, misalnya U-00042."
)


def proposals_list(rows: list[tuple[str, str, str]], total: int) -> str:
    """rows: (number, name, status label)."""
    lines = [f"Usulan Anda ({total}), terbaru di atas:"]
    lines.extend(f"• {number} — {shown(name)} — {status}" for number, name, status in rows)
    if total > len(rows):
        lines.append(
            f"… dan {total - len(rows)} usulan lebih lama. Lihat satu per satu dengan /status NOMOR."
        )
    return "\n".join(lines)


def proposal_status(
    *,
    number: str,
    name: str,
    masked_nik: str,
    category: str,
    desa_label: str,
    status: str,
    submitted_at: str,
    warnings: list[Finding],
) -> str:
    lines = [
        f"Usulan {number}",
        f"• Nama: {shown(name)}",
        f"• NIK: {masked_nik}",
        f"• Pekerjaan: {shown(category)}",
        f"• {desa_label}",
        f"• Dikirim: {submitted_at}",
        f"• Status: {status}",
    ]
    lines.extend(f"⚠️ {finding_text(f)}" for f in warnings)
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- the unknown

NOT_UNDERSTOOD = "Maaf, saya tidak mengerti pesan itu. Ketik /bantuan untuk melihat yang dapat Anda lakukan."
UNKNOWN_COMMAND = "Perintah itu tidak saya kenal. Ketik /bantuan untuk melihat daftar perintah."
CANNOT_READ = "Saya hanya bisa membaca pesan teks dan tombol. Silakan ketik jawabannya."
TOO_LONG = "Pesan terlalu panjang. Ketik jawaban yang singkat saja."
TRY_AGAIN_LATER = (
    "Maaf, terjadi gangguan. Jawaban Anda yang terakhir belum tersimpan; silakan kirim lagi sebentar lagi."
)


def no_camat_bound(kecamatan: str) -> str:
    return (
        f"Catatan: belum ada camat Kec. {kecamatan} yang terhubung ke bot. Usulan tetap tersimpan di "
        "antriannya dan akan terlihat begitu camat masuk."
    )


# ---------------------------------------------------------------------------------------------- approval

ROLE_TITLE = {Role.OPERATOR: "Operator", Role.CAMAT: "Camat", Role.DINAS: "Diskopnaker"}
APPROVE = "✅ Setujui"
REJECT = "❌ Tolak"
RETURN = "↩️ Kembalikan"
ESTABLISH = "🏁 Tetapkan"
REVEAL_NIK = "🔎 Lihat NIK"
BACK = "« Kembali"
NEXT_PENDING = "▶ Usulan berikutnya"
FIX = "✏️ Perbaiki"
CONTINUE = "Lanjut »"
NO_NOTE = "Tanpa catatan"

REJECT_REASONS = {
    "rentan": "bukan pekerja rentan",
    "data": "data tidak sesuai",
    "dobel": "sudah diusulkan/dobel",
    "jaminan": "sudah punya jaminan lain",
    "lain": "lainnya (tulis alasannya)",
}

NOT_YOURS = (
    "Tombol ini bukan untuk Anda: usulan itu di luar wewenang atau wilayah Anda. Tidak ada yang berubah."
)
UNKNOWN_PROPOSAL = "Usulan itu tidak ditemukan. Tidak ada yang berubah."


def own_proposal(number: str) -> str:
    return (
        f"Usulan {number} diajukan oleh Anda sendiri, jadi tidak dapat Anda putuskan. "
        "Keputusannya diambil petugas lain. Tidak ada yang berubah."
    )


ONLY_APPROVERS_QUEUE = "Antrian keputusan hanya untuk camat dan Diskopnaker."
ONLY_DINAS = "Hanya untuk petugas Diskopnaker."
CHOOSE_AT_LEAST_ONE = "Pilih minimal satu bagian yang harus diperbaiki, lalu tekan Lanjut."
DECISION_CANCELLED = "Keputusan dibatalkan; usulan tetap menunggu di antrian."
BULK_CANCELLED = "Baik, tidak ada yang disetujui. Antrian tetap seperti semula."
NOTHING_WITHOUT_WARNINGS = "Tidak ada usulan tanpa peringatan yang menunggu."
REASON_TOO_SHORT = "Alasannya terlalu pendek. Tulis satu kalimat singkat, atau /batal."


def card(
    *,
    number: str,
    status: Status,
    name: str,
    masked_nik: str,
    age: int,
    gender: str,
    category: str,
    desa_label: str,
    proposer: str,
    submitted_at: str,
    warnings: list[Finding],
    resubmissions: int,
    changes: list[str],
    camat_decision: str | None,
) -> str:
    """An approval card: everything an approver needs to decide, NIK masked."""
    lines = [f"📋 Usulan {number} — {STATUS_LABEL[status]}"]
    if resubmissions:
        what = "; ".join(shown(c) for c in changes) if changes else "tidak ada data yang berubah"
        lines.append(f"🔁 Diajukan ulang setelah dikembalikan (ke-{resubmissions}). Berubah: {what}.")
    lines += [
        f"• Nama: {shown(name)}",
        f"• NIK: {masked_nik}",
        f"• Umur: {age} tahun, {kelamin(gender)}",
        f"• Pekerjaan: {shown(category)}",
        f"• {desa_label}",
        f"• Diusulkan: {proposer}, {submitted_at}",
    ]
    if camat_decision:
        lines.append(f"• {camat_decision}")
    if warnings:
        lines.extend(f"⚠️ {finding_text(f)}" for f in warnings)
    else:
        lines.append("Tanpa peringatan.")
    return "\n".join(lines)


def decided_by(action: str, role: Role, name: str, at: str) -> str:
    verb = {
        "approve": "✅ Disetujui",
        "reject": "❌ Ditolak",
        "return": "↩️ Dikembalikan",
        "establish": "🏁 Ditetapkan",
    }[action]
    return f"{verb} oleh {ROLE_TITLE[role]} {name}, {at}"


def outcome(card_text: str, decision: str, reason: str | None) -> str:
    """A card after its decision: the card, then who decided what and when (no buttons)."""
    lines = [card_text, "", decision]
    if reason:
        lines.append(f"Alasan/catatan: {shown(reason)}")
    return "\n".join(lines)


def ask_reject_reason(card_text: str) -> str:
    return f"{card_text}\n\nPilih alasan penolakan:"


def ask_reject_text(number: str) -> str:
    return f"Tulis alasan penolakan usulan {number} dalam satu kalimat (atau /batal)."


def ask_fix_fields(card_text: str, chosen: list[str]) -> str:
    picked = ", ".join(FIELD_LABELS[f] for f in chosen) if chosen else "belum ada"
    return (
        f"{card_text}\n\nApa yang harus diperbaiki operator? Pilih satu atau lebih, lalu tekan Lanjut.\n"
        f"Dipilih: {picked}"
    )


def ask_return_note(number: str, fields: list[str]) -> str:
    return (
        f"Usulan {number} akan dikembalikan untuk memperbaiki: {', '.join(FIELD_LABELS[f] for f in fields)}.\n"
        "Tulis catatan untuk operator (misalnya apa yang salah), atau tekan Tanpa catatan."
    )


def already_decided(number: str, status: Status, decision: str | None) -> str:
    told = f" {decision}." if decision else ""
    return f"Usulan {number} sudah tidak menunggu keputusan Anda: {STATUS_LABEL[status]}.{told} Tidak ada yang berubah."


def quota_full(year: int, quota: int) -> str:
    return (
        f"Kuota peserta baru tahun {year} sudah penuh ({quota} orang). Usulan ini belum bisa ditetapkan; "
        "usulan tetap menunggu. Hubungi pimpinan untuk tambahan kuota atau tolak dengan alasan."
    )


def told_officer(action: str, number: str, name: str, decider: str, reason: str | None) -> str:
    """What the proposing officer reads about a decision on their proposal."""
    name = shown(name)
    match action:
        case "approve":
            text = f"✅ Usulan {number} ({name}) disetujui {decider} dan diteruskan ke Diskopnaker."
        case "establish":
            text = (
                f"🏁 Usulan {number} ({name}) ditetapkan oleh {decider}: calon menjadi peserta baru program."
            )
        case "reject":
            text = f"❌ Usulan {number} ({name}) ditolak oleh {decider}."
        case _:
            text = f"↩️ Usulan {number} ({name}) dikembalikan oleh {decider} untuk diperbaiki."
    if reason:
        text += f"\nAlasan/catatan: {shown(reason)}"
    return text


def told_fix(fields: list[str]) -> str:
    return (
        f"Yang harus diperbaiki: {', '.join(FIELD_LABELS[f] for f in fields)}.\n"
        "Tekan Perbaiki untuk mengisi ulang bagian itu saja, lalu kirim lagi."
    )


def decided_ack(number: str, decision: str) -> str:
    return f"{decision.split(' oleh ')[0]}: usulan {number}. Operator dan pihak terkait diberi tahu."


def queue_header(area: str, total: int, with_warnings: int, page: int, pages: int) -> str:
    if total == 0:
        return f"📥 Antrian {area}: tidak ada usulan yang menunggu keputusan Anda. 👍"
    warned = f", {with_warnings} dengan peringatan" if with_warnings else ""
    return f"📥 Antrian {area}: {total} usulan menunggu{warned}.\nHalaman {page}/{pages}, terlama di atas:"


def queue_line(index: int, number: str, name: str, category: str, desa: str, days: int, warned: bool) -> str:
    age = "hari ini" if days == 0 else f"{days} hari"
    mark = " ⚠️" if warned else ""
    return f"{index}. {number} · {shown(name)} · {shown(category)} · {desa} · {age}{mark}"


QUEUE_FOOTER = "Tekan nomor usulan untuk membuka dan memutuskannya."


def bulk_button(count: int) -> str:
    return f"✅ Setujui semua tanpa peringatan ({count})"


def bulk_confirm(count: int, area: str) -> str:
    return (
        f"Setujui {count} usulan tanpa peringatan di {area} sekaligus?\n"
        "Semuanya diteruskan ke Diskopnaker dan operatornya diberi tahu. "
        "Usulan dengan peringatan tetap di antrian untuk dibuka satu per satu."
    )


def bulk_yes(count: int) -> str:
    return f"Ya, setujui {count} usulan"


def bulk_done(done: int, skipped: int) -> str:
    text = f"✅ {done} usulan disetujui dan diteruskan ke Diskopnaker."
    if skipped:
        text += f" {skipped} usulan sudah diputuskan lebih dulu atau kini punya peringatan, jadi dilewati."
    return text


def nik_revealed(number: str, name: str, nik: str) -> str:
    return f"🔎 NIK usulan {number} ({name}): {nik}\nPembukaan NIK ini tercatat di riwayat usulan."


HISTORY_USAGE = "Tulis nomor usulannya, misalnya /riwayat U-00042."
HISTORY_ACTION = {
    "submit": "mengusulkan",
    "approve": "menyetujui",
    "reject": "menolak",
    "return": "mengembalikan untuk diperbaiki",
    "establish": "menetapkan",
    "resubmit": "mengirim ulang perbaikan",
    "reveal_nik": "membuka NIK lengkap",
}


def history(
    number: str, name: str, lines: list[tuple[str, str, Role, str, Status | None, str | None]]
) -> str:
    """lines: (when, who, role, action, new status, reason)."""
    out = [f"📜 Riwayat usulan {number} ({shown(name)}):"]
    for when, who, role, action, to_status, reason in lines:
        line = f"• {when} — {ROLE_TITLE[role]} {who}: {HISTORY_ACTION.get(action, action)}"
        if to_status is not None:
            line += f" → {STATUS_LABEL[to_status]}"
        if reason:
            line += f" (alasan/catatan: {shown(reason)})"
        out.append(line)
    return "\n".join(out)


FAILURE_REASON = {
    "blocked": "bot diblokir atau akun dihapus",
    "chat_not_found": "chat tidak ditemukan",
    "message_gone": "pesan kartu sudah dihapus",
    "card_not_delivered": "kartunya tidak pernah terkirim",
    "bad_request": "ditolak Telegram",
    "chat_migrated": "chat pindah",
    "gave_up": "gagal berulang kali",
    "not_on_whatsapp": "nomor itu tidak memakai WhatsApp",
    "outside_window": "di luar 24 jam WhatsApp dan template belum disetujui",
}


def failure_reason(reason: str | None) -> str:
    """A delivery failure in words for the dinas; WhatsApp's codes ("refused_132001", "whatsapp_131026")
    with their number, so the IT office can look them up."""
    if not reason:
        return "-"
    if reason in FAILURE_REASON:
        return FAILURE_REASON[reason]
    kind, _, code = reason.rpartition("_")
    if kind == "refused" and code.isdigit():
        return f"ditolak WhatsApp (kode {code})"
    if kind == "whatsapp" and code.isdigit():
        return f"gagal di WhatsApp (kode {code})"
    return reason


NO_FAILURES = "Semua pesan terkirim. Tidak ada yang gagal. 👍"


def failures(rows: list[tuple[str, str, str, str]], total: int) -> str:
    """rows: (when, to whom, what, why)."""
    out = [f"⚠️ {total} pesan tidak terkirim (terbaru di atas). Hubungi petugasnya lewat telepon:"]
    out.extend(f"• {when} — {who} — {what} — {why}" for when, who, what, why in rows)
    if total > len(rows):
        out.append(f"… dan {total - len(rows)} lainnya.")
    return "\n".join(out)


def failures_note(count: int) -> str:
    return f"⚠️ {count} pesan ke petugas tidak terkirim: lihat /gagal."


def fix_start(number: str, fields: list[str], note: str | None) -> str:
    told = f"\nCatatan camat: {shown(note)}" if note else ""
    return (
        f"Perbaikan usulan {number}: isi ulang {', '.join(FIELD_LABELS[f] for f in fields)}.{told}\n"
        "Bagian lain tetap seperti semula. Ketik /batal untuk menunda perbaikan."
    )


FIX_PAUSED = (
    "Perbaikan ditunda. Usulan tetap dikembalikan; tekan Perbaiki pada pesannya (atau /daftarku) "
    "untuk melanjutkan."
)
FIX_NOT_RETURNED = "Usulan itu tidak sedang dikembalikan, jadi tidak perlu diperbaiki. Cek dengan /status."
FINISH_DRAFT_FIRST = (
    "Selesaikan atau batalkan (/batal) dulu usulan yang sedang Anda isi, lalu tekan Perbaiki lagi."
)


def waiting_for_you(count: int) -> str:
    return f"📥 {count} usulan menunggu keputusan Anda. Ketik /antrian untuk melihatnya, terlama dulu."


def not_yet_yours(number: str, status: Status) -> str:
    return f"Usulan {number} belum sampai ke Diskopnaker: {STATUS_LABEL[status]}. Tidak ada yang berubah."


BULK_ALREADY_DONE = (
    "Persetujuan sekaligus itu sudah dijalankan atau dibatalkan. Buka /antrian untuk melihat yang tersisa."
)


def newer_version(number: str) -> str:
    return (
        f"Usulan {number} sudah diperbaiki dan diajukan ulang sejak tombol ini dikirim. Tidak ada yang "
        "berubah; buka kartunya yang baru (/antrian)."
    )


def reason_expired(number: str) -> str:
    return (
        f"Alasan untuk usulan {number} tidak jadi dicatat (tidak ada keputusan yang dibuat). "
        "Tekan tombolnya lagi bila masih ingin memutuskan."
    )


# ------------------------------------------------------------------------------------------------ rekap


def angka(n: int) -> str:
    """1495 -> 1.495, the Indonesian way."""
    return f"{n:,}".replace(",", ".")


REKAP_ONLY_APPROVERS = "Rekap hanya untuk camat dan Diskopnaker."
REKAP_STATUSES = (
    Status.MENUNGGU_CAMAT,
    Status.MENUNGGU_DINAS,
    Status.DITETAPKAN,
    Status.DITOLAK,
    Status.DIKEMBALIKAN,
)


def rekap(
    *,
    year: int,
    area: str,
    today: str,
    totals: dict[Status, int],
    by_area: list[tuple[str, dict[Status, int]]],
    area_kind: str,
    quota: int,
    established: int,
    budget_lines: list[str],
) -> str:
    lines = [
        f"📊 Rekap LANJUTKAN {year} — {area} (per {today})",
        f"Usulan terkirim: {angka(sum(totals.values()))}",
    ]
    lines += [f"• {STATUS_LABEL[s]}: {angka(totals.get(s, 0))}" for s in REKAP_STATUSES]
    if by_area:
        lines += [
            "",
            f"Per {area_kind} (menunggu camat / menunggu Diskopnaker / ditetapkan / ditolak / dikembalikan):",
        ]
        for name, counts in by_area:
            lines.append(f"• {name}: " + " / ".join(angka(counts.get(s, 0)) for s in REKAP_STATUSES))
    lines += ["", quota_line(year=year, quota=quota, established=established)]
    lines += budget_lines
    return "\n".join(lines)


def budget(
    *, year: int, allocation: int | None, monthly: int | None, active: int, new: int, cost: int | None
) -> list[str]:
    if allocation is None or monthly is None or cost is None:
        return [f"Anggaran {year} belum diisi (lanjutkan program set)."]
    return [
        f"Anggaran {year}: {format_rupiah(allocation)}",
        f"• Proyeksi biaya: {format_rupiah(cost)} — {angka(active)} peserta aktif + {angka(new)} peserta baru, "
        f"iuran JKK+JKM {format_rupiah(monthly)}/orang/bulan sejak mulai kepesertaan",
        f"• Sisa: {format_rupiah(allocation - cost)}"
        if cost <= allocation
        else f"• ⚠️ Proyeksi melebihi anggaran sebesar {format_rupiah(cost - allocation)}",
    ]


# ------------------------------------------------------------------------------------------------ ekspor

EXPORT_ASK = "File mana yang ingin diunduh?"
EXPORT_CHOICES = {
    "bpjs": "📗 Peserta baru untuk BPJS (XLSX)",
    "lampiran": "📄 Lampiran SK Bupati (XLSX)",
    "usulan": "📋 Semua usulan dan riwayatnya (CSV)",
    "verif_lanjut": "✅ Verifikasi: peserta lanjut (XLSX)",
    "verif_keluar": "🚪 Verifikasi: peserta keluar dan alasannya (XLSX)",
}
NO_VERIFICATION_ROUND = "Belum ada putaran verifikasi peserta aktif. Mulai dengan /verifikasi."


def export_caption(kind: str, rows: int) -> str:
    what = {
        "bpjs": "Peserta baru yang ditetapkan, untuk pendaftaran kolektif BPJS Ketenagakerjaan",
        "lampiran": "Lampiran Keputusan Bupati, urut kecamatan dan desa",
        "usulan": "Semua usulan dengan status dan riwayat keputusan (NIK disamarkan)",
        "verif_lanjut": "Peserta aktif yang tetap memenuhi syarat pada verifikasi terakhir",
        "verif_keluar": "Peserta yang keluar pada verifikasi terakhir, dengan alasannya",
    }[kind]
    secret = " Berisi NIK lengkap: simpan dan kirim hanya lewat jalur resmi." if kind != "usulan" else ""
    return f"{what}: {angka(rows)} baris.{secret} Pengunduhan ini tercatat."


# ------------------------------------------------------------------------------------- social registries

NAME_MATCH = {"same": "sama ✓", "similar": "mirip (periksa ejaan)", "different": "berbeda ⚠️"}


def registry_status(hits: list[RegistryHit], imported: list[str]) -> str:
    """• data registrasi sosial — DTSEN: ditemukan, desil 3 · DTKS: tidak ditemukan."""
    found = {h.source: h for h in hits}
    parts = []
    for source in imported:
        label = SOURCE_LABEL.get(source, source)
        hit = found.get(source)
        if hit is None:
            parts.append(f"{label}: tidak ditemukan")
        else:
            parts.append(f"{label}: ditemukan" + (f", desil {hit.desil}" if hit.desil is not None else ""))
    return "• data registrasi sosial — " + " · ".join(parts)


def registry_names(matches: list[tuple[str, str]]) -> str:
    """Nama di data registrasi sosial: DTSEN sama ✓ · DTKS berbeda ⚠️."""
    return "Nama di data registrasi sosial: " + " · ".join(
        f"{SOURCE_LABEL.get(source, source)} {NAME_MATCH[str(match)]}" for source, match in matches
    )


# Intake shows registry results only for its own kecamatan and up to a daily limit (not a lookup tool).
REGISTRY_OTHER_KECAMATAN = "• data registrasi sosial: NIK dari kecamatan lain, hasilnya hanya ditampilkan kepada camat dan Diskopnaker"


def registry_limit_reached(limit: int) -> str:
    """The NIK's registry result is not shown: the officer's checks for today are used up."""
    return (
        f"• data registrasi sosial: tidak ditampilkan, batas {angka(limit)} pemeriksaan NIK hari ini "
        "sudah tercapai (camat dan Diskopnaker tetap melihat hasilnya)"
    )


def name_checks_reached(limit: int) -> str:
    """The name comparison is not shown: the officer's name checks for today are used up."""
    return (
        f"Kecocokan nama dengan data registrasi sosial tidak ditampilkan: batas {angka(limit)} pemeriksaan "
        "nama hari ini sudah tercapai. Camat dan Diskopnaker tetap melihat hasilnya."
    )


# ---------------------------------------------------------------------------------- NIK out of the chat

# The last line of a message edited to mask the NIK it showed
NIK_MASKED_NOTE = "🔒 NIK disamarkan demi perlindungan data pribadi."
# After Kirim or Batal, when messages with the full NIK were removed or masked
NIK_CLEANED = "🔒 Pesan berisi NIK lengkap sudah dihapus atau disamarkan demi perlindungan data pribadi."


def demo_earlier_messages(deleted: int, masked: int) -> str:
    """The terminal demo's note where Telegram deletes and masks earlier messages."""
    done = [f"{deleted} pesan NIK Anda dihapus"] if deleted else []
    done += [f"{masked} pesan bot dengan NIK lengkap disamarkan"] if masked else []
    return "   🔒 (di Telegram: " + ", ".join(done) + "; terminal tidak dapat mengubah yang sudah tercetak)"


# ------------------------------------------------------------------------------ summaries and reminders

SUMMARY_NO_REGION = (
    "Ringkasan belum dapat dibuat: wilayah Anda di daftar petugas tidak dikenal. Hubungi {admin}."
)
SHORT_STATUS = {
    Status.MENUNGGU_CAMAT: "menunggu camat",
    Status.MENUNGGU_DINAS: "menunggu Diskopnaker",
    Status.DITETAPKAN: "ditetapkan",
    Status.DITOLAK: "ditolak",
    Status.DIKEMBALIKAN: "dikembalikan",
}
OPEN_QUEUE = "📥 Buka antrian"
IN_THE_WEEK = "Dalam 7 hari itu: "


def hari(days: int) -> str:
    return "kurang dari 1 hari" if days <= 0 else f"{days} hari"


def periode(start: dt.date, end: dt.date) -> str:
    """16–22 November 2026, or 30 November – 6 Desember 2026."""
    if start.year == end.year and start.month == end.month:
        return f"{start.day}–{tanggal(end)}"
    if start.year == end.year:
        return f"{start.day} {BULAN[start.month - 1]} – {tanggal(end)}"
    return f"{tanggal(start)} – {tanggal(end)}"


WEEK_ACTIONS = (
    ("resubmit", "diajukan ulang"),
    ("approve", "disetujui camat"),
    ("establish", "ditetapkan"),
    ("return", "dikembalikan"),
    ("reject", "ditolak"),
)


def week_activity(done: dict[str, int]) -> str:
    """12 usulan baru · 1 diajukan ulang · 8 disetujui camat · 2 dikembalikan (what did not happen is left out)."""
    parts = [f"{angka(done.get('submit', 0))} usulan baru"]
    parts += [f"{angka(done[action])} {label}" for action, label in WEEK_ACTIONS if done.get(action)]
    return " · ".join(parts)


def status_totals(counts: dict[Status, int]) -> str:
    """14 usulan: 2 menunggu camat, 3 menunggu Diskopnaker, 7 ditetapkan, 1 ditolak, 1 dikembalikan."""
    total = sum(counts.values())
    if not total:
        return "belum ada usulan"
    parts = [f"{angka(counts[s])} {SHORT_STATUS[s]}" for s in REKAP_STATUSES if counts.get(s)]
    return f"{angka(total)} usulan: " + ", ".join(parts)


def waiting_line(label: str, count: int, oldest_days: int | None) -> str:
    if not count:
        return f"{label}: tidak ada"
    oldest = f" (terlama {hari(oldest_days)})" if oldest_days is not None else ""
    return f"{label}: {angka(count)}{oldest}"


def summary_heading(area: str, start: dt.date, end: dt.date) -> str:
    return f"📊 Ringkasan mingguan LANJUTKAN — {area}\n{periode(start, end)}"


def area_line(name: str, *, new: int, waiting: int, oldest_days: int | None, total: int) -> str:
    """• Tomok: 3 baru · 2 menunggu (terlama 5 hari) · 14 usulan."""
    oldest = f" (terlama {hari(oldest_days)})" if waiting and oldest_days is not None else ""
    return f"• {name}: {angka(new)} baru · {angka(waiting)} menunggu{oldest} · {angka(total)} usulan"


def kecamatan_decisions(done: dict[str, int], *, silent: int, desa: int) -> str:
    """The second line of a kecamatan in the dinas summary: the week's decisions, the silent desa."""
    decided = " · ".join(
        f"{angka(done.get(action, 0))} {label}"
        for action, label in WEEK_ACTIONS
        if action in ("approve", "establish", "return", "reject")
    )
    return f"   ↳ {decided} · {angka(silent)} dari {angka(desa)} desa belum mengusulkan"


def not_proposed(year: int, names: list[str], count: int, of: int) -> str:
    if not count:
        return f"Semua {angka(of)} desa/kelurahan sudah mengusulkan pada {year}. 👍"
    return f"Belum mengusulkan pada {year} ({angka(count)} dari {angka(of)}): " + ", ".join(names) + "."


def quota_line(*, year: int, quota: int, established: int) -> str:
    left = max(quota - established, 0)
    return (
        f"Kuota peserta baru {year}: {angka(established)} dari {angka(quota)} terpakai, sisa {angka(left)}."
    )


def not_proposed_count(year: int, count: int, of: int) -> str:
    return f"{angka(count)} dari {angka(of)} desa/kelurahan belum mengusulkan pada {year}."


def unreachable_lines(rows: list[tuple[str, str, str, str]], *, limit: int) -> list[str]:
    """(name, role, area, reason) of officers the bot cannot reach."""
    if not rows:
        return ["Semua petugas dapat dihubungi bot. 👍"]
    reason_text = {
        "never_onboarded": "belum pernah membuka bot",
        "blocked": "memblokir bot",
        "chat_not_found": "akun tidak ditemukan",
        "chat_migrated": "akun berpindah",
        "not_on_whatsapp": "nomornya tidak memakai WhatsApp",
    }
    lines = [f"Petugas yang tidak dapat dihubungi bot ({angka(len(rows))}):"]
    for name, role, area, reason in rows[:limit]:
        lines.append(f"• {name} ({ROLE_LABEL[Role(role)]}, {area}) — {reason_text.get(reason, reason)}")
    if len(rows) > limit:
        lines.append(f"• … dan {angka(len(rows) - limit)} lainnya")
    lines.append("Minta mereka membuka bot dan menekan /start.")
    return lines


def returned_item(number: str, name: str, fields: list[str], days: int) -> str:
    what = ", ".join(FIELD_LABELS.get(f, f) for f in fields) or "lihat catatan camat"
    return f"• {number} {shown(name)} — perbaiki: {what} (dikembalikan {hari(days)} lalu)"


def needs_action(count: int) -> str:
    if not count:
        return "Tidak ada usulan yang perlu Anda perbaiki. 👍"
    return f"Perlu tindakan Anda: {angka(count)} usulan dikembalikan untuk diperbaiki."


def more(count: int, where: str) -> str:
    return f"• … dan {angka(count)} lainnya ({where})"


PER_DESA = "Per desa/kelurahan (baru dalam 7 hari itu · menunggu Anda · semua usulan):"
PER_KECAMATAN = "Per kecamatan (baru dalam 7 hari itu · menunggu camat · semua usulan; keputusan 7 hari itu):"


def summary_operator_empty(kind: str) -> str:
    """Desa Anda (Kelurahan Anda) belum mengusulkan siapa pun..."""
    return f"{kind.capitalize()} Anda belum mengusulkan siapa pun. Ketik /daftar untuk mengusulkan pekerja rentan."


SUMMARY_APPROVER_FOOTER = "Buka /antrian untuk memutuskan, /rekap untuk angka lengkap."
CHART_CAPTION = "Usulan per kecamatan dan status, {day}."


def waiting_item(number: str, name: str, where: str, days: int) -> str:
    return f"• {number} {shown(name)} — {where}, menunggu {hari(days)}"


def remind_camat(count: int, days: int, items: list[str], *, escalated: int, escalate_days: int) -> str:
    lines = [f"⏰ Pengingat: {angka(count)} usulan menunggu keputusan Anda lebih dari {days} hari."]
    lines += items
    if escalated:
        lines.append(
            f"\n{angka(escalated)} di antaranya sudah lebih dari {escalate_days} hari dan dilaporkan ke Diskopnaker."
        )
    lines.append("\nBuka antrian untuk memutuskan.")
    return "\n".join(lines)


def escalation(count: int, days: int, rows: list[str]) -> str:
    return "\n".join([f"🚩 {angka(count)} usulan menunggu camat lebih dari {days} hari:", *rows])


def escalation_row(kecamatan: str, count: int, oldest_days: int, camats: list[str]) -> str:
    who = ", ".join(camats) if camats else "belum ada camat di daftar petugas"
    return f"• Kec. {kecamatan}: {angka(count)} (terlama {hari(oldest_days)}) — {who}"


def remind_dinas(count: int, days: int, oldest_days: int) -> str:
    return (
        f"⏰ {angka(count)} usulan menunggu verifikasi Anda lebih dari {days} hari "
        f"(terlama {hari(oldest_days)}). Buka antrian untuk memutuskan."
    )


def remind_fix(count: int, days: int, items: list[str]) -> str:
    return "\n".join(
        [
            f"⏰ Pengingat: {angka(count)} usulan dikembalikan camat lebih dari {days} hari dan belum diperbaiki.",
            *items,
            "\nTekan ✏️ Perbaiki, isi bagian yang diminta, lalu Kirim.",
        ]
    )


# ------------------------------------------------------------------ BPJS registration results (bpjs import)


def bpjs_registered(number: str, name: str, effective: dt.date) -> str:
    """The notice to the proposing officer once BPJS registered their worker."""
    return f"✅ {number} ({shown(name)}) sudah terdaftar di BPJS Ketenagakerjaan sejak {tanggal(effective)}."


def bpjs_status_line(status: str, kpj: str | None, effective: dt.date | None, note: str | None) -> str:
    """/status's line on BPJS's result: registered with its number and date, or failed with the reason."""
    if status == Result.BERHASIL and effective is not None:
        return f"• BPJS Ketenagakerjaan: terdaftar sejak {tanggal(effective)}, nomor kepesertaan {kpj or '-'}"
    reason = f": {shown(note)}" if note else ""
    return f"• BPJS Ketenagakerjaan: gagal didaftarkan{reason}"


def bpjs_failures_section(rows: list[tuple[str, str, str | None]], total: int) -> str:
    """/antrian of the dinas: established workers BPJS could not register, with BPJS's reason."""
    lines = [f"❗ Gagal didaftarkan di BPJS ({total}): perbaiki datanya lalu daftarkan lagi (/ekspor, BPJS)."]
    for number, name, note in rows:
        lines.append(f"• {number} · {shown(name)} · {shown(note) if note else 'tanpa keterangan'}")
    if total > len(rows):
        lines.append(f"… dan {total - len(rows)} lainnya.")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- siaran (/siaran)
# Announcements from the dinas (any region of the kabupaten) or a camat (their kecamatan) to officers.

SIARAN_ONLY_APPROVERS = "Siaran hanya untuk camat dan Diskopnaker."
SIARAN_AUDIENCE = "📢 Siaran baru (1/3). Untuk siapa?"
SIARAN_AUDIENCE_LABEL = {"operator": "Operator desa", "camat": "Camat", "all": "Semua petugas"}
SIARAN_AUDIENCE_BUTTON = {"operator": "Operator desa", "camat": "Camat", "all": "Semua"}
SIARAN_REGION = "Wilayah mana? (2/3)"
SIARAN_WHOLE_KABUPATEN = "Seluruh kabupaten"
SIARAN_PREVIOUS = "‹ Sebelumnya"
SIARAN_NEXT = "Berikutnya ›"
SIARAN_SEND = "📤 Kirim"
SIARAN_EDIT = "✏️ Ubah teks"
SIARAN_CANCEL = "Batal"
SIARAN_CANCELLED = "Siaran dibatalkan. Tidak ada yang dikirim."
SIARAN_REGION_REFUSED = "Wilayah itu di luar wilayah Anda. Pilih wilayah dari daftar."
SIARAN_NO_LONGER = "Anda tidak lagi dapat mengirim siaran; siaran yang sedang disiapkan dibatalkan."
SIARAN_EMPTY = "Teks siaran kosong. Ketik pesan yang akan dikirim."
SIARAN_PRESS_A_BUTTON = "Silakan pilih salah satu tombol, atau ketik /batal."
SIARAN_STILL_OPEN = "Siaran Anda masih disiapkan. Lanjutkan langkah berikut, atau /batal:"
SIARAN_NOBODY_NOW = "Tidak ada lagi penerima yang aktif untuk siaran ini; tidak ada yang dikirim."


def siaran_text_prompt(audience: str, region: str) -> str:
    return (
        f"Siaran untuk {SIARAN_AUDIENCE_LABEL[audience].lower()} — {region}. (3/3)\n"
        "Ketik teks siaran (paling banyak 1.000 karakter). Emoji boleh; NIK akan disamarkan."
    )


def siaran_too_long(length: int, limit: int) -> str:
    return f"Teks siaran terlalu panjang ({angka(length)} karakter, paling banyak {angka(limit)}). Persingkat lalu kirim lagi."


def siaran_nobody(audience: str, region: str) -> str:
    return (
        f"Tidak ada {SIARAN_AUDIENCE_LABEL[audience].lower()} aktif di {region}. "
        "Pilih wilayah lain, atau /batal."
    )


CHANNEL_LABEL = {"whatsapp": "WhatsApp", "telegram": "Telegram", "terminal": "terminal"}


def siaran_reach(
    officers: int, reached: int, channels: dict[str, int], unbound: int, reach_unbound: str | None
) -> str:
    """ "Akan dikirim ke 14 petugas: 11 lewat WhatsApp, 3 lewat Telegram; 2 belum pernah menghubungi bot
    (lewat template WhatsApp)". An officer bound on two chat apps counts on both."""
    ways = ", ".join(f"{angka(n)} lewat {CHANNEL_LABEL.get(c, c)}" for c, n in channels.items())
    whom = f"{angka(officers)}" if reached == officers else f"{angka(reached)} dari {angka(officers)}"
    text = f"Akan dikirim ke {whom} petugas" + (f": {ways}" if ways else "")
    if unbound:
        how = (
            f"lewat template {CHANNEL_LABEL.get(reach_unbound, reach_unbound)}"
            if reach_unbound
            else "tidak menerima siaran ini sampai menghubungi bot"
        )
        text += f"; {angka(unbound)} belum pernah menghubungi bot ({how})"
    return text + "."


def siaran_preview(audience: str, region: str, text: str, reach: str) -> str:
    return (
        f"Pratinjau siaran untuk {SIARAN_AUDIENCE_LABEL[audience].lower()} — {region}:\n\n"
        f"{text}\n\n{reach}\nTekan Kirim untuk mengirim."
    )


def siaran_message(sender_role: Role, sender_name: str, text: str) -> str:
    """What each recipient reads."""
    return f"📢 Siaran dari {ROLE_TITLE[sender_role]} {sender_name}:\n\n{text}"


def siaran_sent(officers: int, messages: int) -> str:
    return (
        f"✅ Siaran dikirim ke {angka(officers)} petugas ({angka(messages)} pesan). "
        "Ketik /siaran untuk melihat berapa yang sudah terkirim."
    )


def siaran_counts(sent: int, waiting: int, failed: int) -> str:
    return f"{angka(sent)} terkirim, {angka(waiting)} menunggu, {angka(failed)} gagal"


def siaran_history(lines: list[str]) -> str:
    return "\n".join(["Siaran Anda terakhir:", *lines])


def siaran_history_line(when: str, audience: str, region: str, recipients: int, counts: str) -> str:
    return (
        f"• {when} — {SIARAN_AUDIENCE_LABEL.get(audience, audience).lower()}, {region}, "
        f"{angka(recipients)} petugas: {counts}"
    )


def siaran_running(when: str, counts: str) -> str:
    return (
        f"Siaran Anda tanggal {when} masih dikirim ({counts}). "
        "Siaran baru dapat dibuat setelah semuanya terkirim; ketik /siaran lagi nanti."
    )


# ----------------------------------------------------------- intake period and kecamatan allocations


def period_line(
    year: int, start: dt.date, end: dt.date, fix_until: dt.date, phase: str, left: int | None
) -> str:
    """The intake period on /rekap: dates and where today falls."""
    head = f"Masa pengusulan {year}: {periode(start, end)}"
    match phase:
        case "before":
            return f"{head} (belum dibuka)"
        case "open":
            return f"{head} (sisa {hari(left or 0)})"
        case "fixing":
            return f"{head} (sudah ditutup; perbaikan sampai {tanggal(fix_until)})"
        case _:
            return f"{head} (sudah ditutup)"


def intake_not_open(start: dt.date, end: dt.date) -> str:
    return (
        f"Masa pengusulan belum dibuka. Usulan baru bisa dibuat mulai {tanggal(start)} sampai {tanggal(end)}."
    )


def intake_closed(end: dt.date) -> str:
    return (
        f"Masa pengusulan sudah ditutup pada {tanggal(end)}. Usulan baru tidak bisa dibuat lagi. "
        "Untuk keperluan mendesak, hubungi Diskopnaker."
    )


def intake_closed_at_kirim(end: dt.date) -> str:
    return (
        f"Masa pengusulan sudah ditutup pada {tanggal(end)}, jadi usulan ini tidak bisa dikirim. "
        "Isiannya tetap tersimpan, tidak ada yang hilang. Hubungi Diskopnaker bila masa pengusulan dibuka lagi."
    )


def fix_closed(fix_until: dt.date) -> str:
    return (
        f"Masa perbaikan usulan sudah berakhir pada {tanggal(fix_until)}. Usulan yang dikembalikan tidak bisa "
        "diperbaiki lagi. Hubungi Diskopnaker bila ada yang perlu dibicarakan."
    )


def remind_closing(days: int, end: dt.date, desa: str) -> str:
    when = "hari ini" if days <= 0 else "besok" if days == 1 else f"{angka(days)} hari lagi"
    return (
        f"⏰ Masa pengusulan ditutup {when}, {tanggal(end)}. {desa} belum mengirim usulan tahun ini.\n"
        "Ketik /daftar untuk mengusulkan pekerja rentan sebelum ditutup."
    )


def desa_without_proposal(names: list[str]) -> str:
    return f"Desa/kelurahan yang belum mengirim usulan tahun ini ({angka(len(names))}): " + ", ".join(names)


def allocation_line(kecamatan: str, year: int, established: int, quota: int) -> str:
    left = quota - established
    tail = f"sisa {angka(left)}" if left > 0 else ("penuh" if left == 0 else f"lebih {angka(-left)}")
    return f"Kuota Kec. {kecamatan} {year}: {angka(established)} dari {angka(quota)} ditetapkan, {tail}"


def allocation_header(year: int) -> str:
    return f"Kuota per kecamatan {year} (ditetapkan / kuota):"


def allocation_row(kecamatan: str, established: int, quota: int) -> str:
    mark = " ⚠️" if established > quota else (" (penuh)" if established == quota else "")
    return f"• {kecamatan}: {angka(established)} / {angka(quota)}{mark}"


def kecamatan_full(kecamatan: str, year: int, established: int, quota: int) -> str:
    return (
        f"Kuota Kec. {kecamatan} {year} penuh: {angka(established)} dari {angka(quota)} sudah ditetapkan. "
        "Usulan ini belum ditetapkan dan tetap menunggu. Tetapkan melebihi kuota hanya dengan alasan tertulis."
    )


OVERRIDE = "⚠️ Melebihi kuota"


def ask_override_reason(number: str, kecamatan: str) -> str:
    return (
        f"Tulis alasan menetapkan usulan {number} melebihi kuota Kec. {kecamatan} dalam satu kalimat "
        "(atau /batal). Alasan ini tercatat di riwayat usulan."
    )


def over_allocation(kecamatan: str, year: int, established: int, quota: int) -> str:
    return f"⚠️ Melebihi kuota Kec. {kecamatan} {year}: {angka(established)} dari {angka(quota)}"


HISTORY_ACTION["override"] = "menetapkan melebihi kuota kecamatan"


CHART_QUOTA = "Kuota kecamatan"


def closes_in(end: dt.date, left: int) -> str:
    return f"Masa pengusulan ditutup {tanggal(end)} (sisa {hari(left)})."


# ------------------------------------------------------------------ re-verification (penyesuaian data)
# (/verifikasi: handlers/verifikasi.py)

VERIF_CONTINUES = "✅ Masih memenuhi syarat"
VERIF_NOT_ANY_MORE = "❌ Tidak lagi"
VERIF_START = "▶️ Mulai"
VERIF_APPROVE_OUT = "✅ Setujui keluar"
VERIF_REFUSE_OUT = "↩️ Tolak"
VERIF_NEXT = "Berikutnya ▶"
VERIF_NO_ROUND = "Belum ada verifikasi peserta aktif yang berjalan."
VERIF_ONLY_DINAS_STARTS = "Verifikasi peserta aktif dimulai oleh Diskopnaker."
VERIF_NOBODY = (
    "Tidak ada peserta aktif untuk diverifikasi. Impor daftar peserta dulu (lanjutkan participants import)."
)
VERIF_START_CANCELLED = "Baik, verifikasi tidak dimulai."
VERIF_ALREADY = "Peserta itu sudah diputuskan sebelumnya. Tidak ada yang berubah."
VERIF_ASK_TEXT = "Tuliskan alasannya (paling banyak 200 huruf), atau /batal:"
VERIF_REASON_CANCELLED = "Baik, peserta itu tetap menunggu pemeriksaan."
VERIF_BULK_NONE = "Tidak ada usulan keluar tanpa peringatan."
VERIF_INTAKE_OPEN = (
    "Usulan yang sedang Anda isi masih terbuka. Selesaikan (Kirim) atau /batal dulu, lalu tekan lagi."
)
VERIF_BAD_DUE = "Tanggal batas tidak terbaca. Contoh: /verifikasi 31-01-2027"


def verif_date(day: dt.date) -> str:
    return tanggal(day)


def verif_confirm_start(year: int, participants: int, desa: int, due: dt.date) -> str:
    return (
        f"Mulai verifikasi peserta aktif untuk tahun {year}?\n"
        f"{angka(participants)} peserta aktif di {angka(desa)} desa akan diperiksa operator desanya "
        f"sebelum {tanggal(due)}. Setiap operator diberi tahu."
    )


def verif_started(year: int, items: int, desa: int, due: dt.date) -> str:
    return (
        f"Verifikasi tahun {year} dimulai: {angka(items)} peserta di {angka(desa)} desa, "
        f"batas {tanggal(due)}. Operator desa sudah diberi tahu."
    )


def verif_round_open(year: int) -> str:
    return f"Verifikasi tahun {year} sudah berjalan. Ketik /verifikasi untuk melihat kemajuannya."


def verif_tell_operator(count: int, desa: str, due: dt.date) -> str:
    return (
        f"📋 {angka(count)} peserta aktif Desa {desa} perlu diperiksa sebelum {tanggal(due)}. "
        "Ketik /verifikasi."
    )


def verif_remind_operator(count: int, desa: str, due: dt.date) -> str:
    return (
        f"⏰ Pengingat: {angka(count)} peserta aktif Desa {desa} belum diperiksa; batasnya {tanggal(due)}. "
        "Ketik /verifikasi."
    )


def verif_waiting(count: int, desa: str) -> str:
    return f"{angka(count)} peserta aktif Desa {desa} menunggu pemeriksaan Anda."


def verif_none_in_desa(desa: str) -> str:
    return f"Tidak ada peserta aktif Desa {desa} dalam verifikasi ini."


def verif_all_done(desa: str) -> str:
    return f"✅ Semua peserta Desa {desa} sudah diperiksa. Terima kasih."


def verif_premark(code: str, value: int | None, limit: int | None, reference: dt.date) -> str:
    if code == "usia":
        return f"⚠️ usia {value} tahun pada {tanggal(reference)}, di atas batas {limit}"
    if code == "desil":
        return f"⚠️ desil {value} di DTSEN terbaru, di atas batas desil {limit}"
    return "⚠️ tidak ada di DTSEN terbaru"


def verif_item(
    *,
    name: str,
    masked_nik: str,
    age: int | None,
    reference: dt.date,
    category: str,
    since: dt.date,
    desa: str,
    marks: list[str],
    status_line: str | None = None,
) -> str:
    lines = [
        f"👤 {name}",
        f"NIK: {masked_nik}",
        f"Usia pada {tanggal(reference)}: {'-' if age is None else f'{age} tahun'}",
        f"Pekerjaan: {category}",
        f"Peserta sejak: {tanggal(since)}",
        f"Desa: {desa}",
        *marks,
    ]
    if status_line:
        lines.append(status_line)
    return "\n".join(lines)


def verif_ask_reason(item_text: str) -> str:
    return f"{item_text}\n\nMengapa tidak lagi memenuhi syarat?"


def verif_proposed(name: str, reason: str) -> str:
    return f"Diusulkan keluar: {name} ({reason}). Menunggu keputusan camat."


def verif_card_head(stage: str) -> str:
    who = "camat" if stage == "usul_keluar" else "Diskopnaker"
    return f"🔎 Usulan keluar peserta (menunggu {who})"


def verif_reason_line(reason: str, by: str) -> str:
    return f"Alasan: {reason} — diusulkan {by}"


def verif_camat_agreed(by: str) -> str:
    return f"Keluar disetujui {by}"


def verif_decided(action: str, who: str, name: str) -> str:
    words = {
        "ok": "masih memenuhi syarat",
        "out_camat": "keluar disetujui camat, diteruskan ke Diskopnaker",
        "out": "keluar dari program",
        "keep": "usulan keluar ditolak: tetap menjadi peserta",
    }
    return f"{name}: {words[action]} — {who}."


def verif_told_operator(name: str, action: str, who: str) -> str:
    return f"Hasil verifikasi: {verif_decided(action, who, name)}"


def verif_progress(title: str, lines: list[str], waiting: int | None = None) -> str:
    text = "\n".join([title, *lines]) if lines else f"{title}\n(belum ada peserta)"
    if waiting:
        text += f"\n\n{angka(waiting)} usulan keluar menunggu keputusan Anda."
    return text


def verif_progress_line(label: str, done: int, total: int) -> str:
    mark = "✅" if done == total else "•"
    return f"{mark} {label}: {angka(done)}/{angka(total)}"


def verif_progress_title(year: int, due: dt.date, area: str) -> str:
    return f"📋 Verifikasi peserta aktif {year} — {area} (batas {tanggal(due)})"


def verif_open_waiting(count: int) -> str:
    return f"Buka usulan keluar ({angka(count)})"


def verif_bulk_button(count: int) -> str:
    return f"Setujui {angka(count)} tanpa peringatan"


def verif_bulk_confirm(count: int) -> str:
    return f"Setujui keluar {angka(count)} peserta tanpa peringatan? Yang berperingatan tetap diperiksa satu per satu."


def verif_bulk_done(done: int, skipped: int) -> str:
    text = f"{angka(done)} usulan keluar disetujui dan diteruskan ke Diskopnaker."
    if skipped:
        text += f" {angka(skipped)} dilewati (sudah diputuskan atau berubah)."
    return text


def verif_summary_line(year: int, done: int, total: int, removed: int) -> str:
    return (
        f"📋 Verifikasi peserta aktif {year}: {angka(done)}/{angka(total)} sudah diperiksa, "
        f"{angka(removed)} keluar."
    )
