// A BMC fetches an image before it uses it (virtual media, firmware), so a bad URL fails there.
const IMAGE_DOWNLOAD_TIMEOUT_MS = 10_000;

/** Downloads `url` in full; the reason when that fails, undefined when it worked. */
export async function downloadProblem(url: unknown): Promise<string | undefined> {
  if (typeof url !== 'string' || !URL.canParse(url)) return `The image URI ${JSON.stringify(url)} is not a URL.`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(IMAGE_DOWNLOAD_TIMEOUT_MS) });
    await response.arrayBuffer();
    return response.ok ? undefined : `Downloading ${url} answered HTTP ${response.status}.`;
  } catch (error) {
    return `Downloading ${url} failed: ${error instanceof Error ? error.message : String(error)}.`;
  }
}
