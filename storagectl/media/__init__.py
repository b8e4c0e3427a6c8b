"""`storagectl media`: backup, restore, copy, push and pull of a site's media, keeping private files private.

One job per module:
- `stores`: where objects are (a site's two buckets, a backup bucket prefix, a local folder) and listing them;
- `checksums`: S3-style ETags of local files, so a file and an object compare without a download;
- `manifest`: the backup manifest (what each object is and which half it belongs to), written atomically;
- `diff`: what a run would copy, skip, delete, or refuse to overwrite;
- `transfer`: moving one object (server-side copy, streaming, upload, download) with its metadata and ACL;
- `privacy`: the anonymous check afterwards, that private objects are refused and public ones load;
- `engine`: the concurrent run with progress and its summary;
- `command`: the Typer commands.
"""
