// The two bits of S3's XML answers keyrot reads: an error's <Code>, and the keys of a listing.
/** The <Code> of an S3 error body ("NoSuchBucket", "PreconditionFailed"), or ''. */
export function s3ErrorCode(body: string): string {
  return /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? '';
}

/** Decodes the five XML entities S3 uses in listing answers. */
export function xmlText(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
}
