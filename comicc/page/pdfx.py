"""PDF/X identification: the XMP packet, the output intent with its profile, the info keys.

ReportLab writes the pages; this module adds what ISO 15930 asks of the document: a
`GTS_PDFXVersion` in the info dictionary and in XMP (`pdfxid:`), creation and modification
dates that agree in both, `Trapped` set, and an `OutputIntents` entry whose
`DestOutputProfile` embeds the ICC profile of the printing condition.
"""

from __future__ import annotations

import os
import time
import uuid
import zlib
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFStream, PDFString
from reportlab.pdfgen.canvas import Canvas

from comicc.manifest.choices import PdfFlavour
from comicc.page.colour import OutputIntent

# The GTS_PDFXVersion written and the PDF version its standard is based on.
VERSIONS: dict[PdfFlavour, tuple[str, tuple[int, int]]] = {
    "x4": ("PDF/X-4", (1, 6)),
    "x1a": ("PDF/X-1a:2001", (1, 3)),
}


@dataclass(frozen=True)
class Identity:
    """Who and when, as both the info dictionary and the XMP packet state it."""

    title: str
    authors: list[str]
    tool: str  # CreatorTool
    producer: str
    epoch: int  # seconds since 1970 (UTC)

    @property
    def document_id(self) -> str:
        seed = "\x00".join([self.title, *self.authors, str(self.epoch)])
        return f"uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'comicc:' + seed)}"


def build_epoch() -> int:
    """SOURCE_DATE_EPOCH for reproducible builds, otherwise now (PDF/X files must be dated)."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(value) if value else int(time.time())


def info_entries(flavour: PdfFlavour, identity: Identity) -> dict[str, object]:
    """The PDF/X keys of the document info dictionary."""
    version = VERSIONS[flavour][0]
    stamp = time.strftime("D:%Y%m%d%H%M%S+00'00'", time.gmtime(identity.epoch))
    entries: dict[str, object] = {
        "GTS_PDFXVersion": PDFString(version),
        "CreationDate": PDFString(stamp),
        "ModDate": PDFString(stamp),
        "Trapped": PDFName("False"),
    }
    if flavour == "x1a":
        entries["GTS_PDFXConformance"] = PDFString(version)
    return entries


def mark_pdfx(canvas: Canvas, flavour: PdfFlavour, intent: OutputIntent,
              identity: Identity) -> None:
    """Add the XMP metadata and the output intent to the document's catalog."""
    document = canvas._doc  # reportlab has no public hook for catalog streams
    catalog = document.Catalog
    profile = PDFStream(PDFDictionary({"N": intent.components, "Filter": PDFName("FlateDecode")}),
                        content=zlib.compress(intent.profile, 9), filters=[])
    catalog.OutputIntents = PDFArray([PDFDictionary({
        "Type": PDFName("OutputIntent"),
        "S": PDFName("GTS_PDFX"),
        "OutputConditionIdentifier": PDFString(intent.condition),
        "RegistryName": PDFString("http://www.color.org"),
        "Info": PDFString(intent.info),
        "DestOutputProfile": document.Reference(profile),
    })])
    # The catalog writes only the keys it lists; OutputIntents is not among reportlab's.
    catalog.__NoDefault__ = [*type(catalog).__NoDefault__, "OutputIntents"]
    # Metadata stays uncompressed so that tools can find the packet by scanning the file.
    catalog.Metadata = PDFStream(
        PDFDictionary({"Type": PDFName("Metadata"), "Subtype": PDFName("XML")}),
        content=xmp_packet(flavour, identity).encode("utf-8"), filters=[])


def xmp_packet(flavour: PdfFlavour, identity: Identity) -> str:
    """The XMP packet: title, authors, dates, tool and the PDF/X identification."""
    version = VERSIONS[flavour][0]
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(identity.epoch))
    authors = "".join(f"<rdf:li>{escape(a)}</rdf:li>" for a in identity.authors)
    conformance = (f"\n   <pdfx:GTS_PDFXVersion>{version}</pdfx:GTS_PDFXVersion>"
                   f"\n   <pdfx:GTS_PDFXConformance>{version}</pdfx:GTS_PDFXConformance>"
                   if flavour == "x1a" else "")
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:pdfx="http://ns.adobe.com/pdfx/1.3/"
    xmlns:pdfxid="http://www.npes.org/pdfx/ns/id/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(identity.title)}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq>{authors}</rdf:Seq></dc:creator>
   <xmp:CreateDate>{date}</xmp:CreateDate>
   <xmp:ModifyDate>{date}</xmp:ModifyDate>
   <xmp:MetadataDate>{date}</xmp:MetadataDate>
   <xmp:CreatorTool>{escape(identity.tool)}</xmp:CreatorTool>
   <pdf:Producer>{escape(identity.producer)}</pdf:Producer>
   <pdf:Trapped>False</pdf:Trapped>
   <xmpMM:DocumentID>{identity.document_id}</xmpMM:DocumentID>
   <xmpMM:InstanceID>{identity.document_id}</xmpMM:InstanceID>
   <xmpMM:VersionID>1</xmpMM:VersionID>
   <xmpMM:RenditionClass>default</xmpMM:RenditionClass>
   <pdfxid:GTS_PDFXVersion>{version}</pdfxid:GTS_PDFXVersion>{conformance}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
