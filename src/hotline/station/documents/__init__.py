"""Documents at run time (docs/protocol.md §13): the station's document wing.

``desk`` routes, ``outgoing`` sends, ``incoming`` receives, ``writer`` holds the write, hash and
fsync threads of a received document, ``views`` shows documents, ``blobfiles`` opens and deletes
received documents' files, and ``needs`` declares what the wing asks of a line and of the station.
"""

from hotline.station.documents.desk import DocumentDesk
from hotline.station.documents.views import describe_doc, doc_dir

__all__ = ["DocumentDesk", "describe_doc", "doc_dir"]
