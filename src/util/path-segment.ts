// Path segments built from config or client values (model names, deployments, projects). encodeURIComponent
// leaves `.` alone, so a value of `.` or `..` would still walk up the upstream path: dots are escaped too when a
// segment is made only of them. Everything else that is not unreserved (`/`, `?`, `#`, `%`, CR, LF, spaces…) is
// percent-encoded, so one value is always exactly one segment.

/** One value as exactly one path segment. */
export function encodePathSegment(value: string): string {
  const encoded = encodeURIComponent(value);
  return /^\.*$/.test(encoded) ? encoded.replace(/\./g, '%2E') : encoded;
}

/**
 * A value that may name a resource path of its own (`tunedModels/x`, `projects/p/…`): each segment encoded, or
 * undefined when a segment is empty or a dot segment (the caller then encodes the whole value as one segment).
 */
export function encodeResourcePath(value: string): string | undefined {
  const segments = value.split('/');
  if (segments.some((segment) => segment === '' || /^\.+$/.test(segment))) return undefined;
  return segments.map(encodePathSegment).join('/');
}
