// Pages re-read their state whenever an event hints that it changed, so several reads
// can be in flight at once and their answers can arrive out of order. A reader made by
// `latest` uses only the answer to its newest read: an older state never overwrites a
// newer one on the screen.

/**
 * A function that fetches `address` (a string, or a function giving one) and hands
 * the JSON body to `use`, unless a newer read has started meanwhile.
 */
export function latest(address, use) {
  let newest = 0;
  return async function read() {
    const request = ++newest;
    const url = typeof address === "function" ? address() : address;
    const response = await fetch(url, { cache: "no-store" });
    if (!response.ok) return;
    const body = await response.json();
    if (request === newest) use(body);
  };
}
