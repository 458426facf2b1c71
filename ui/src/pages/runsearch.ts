// The runs page's search: early.ts asks for its first page before the app loads, so the two
// must ask the same.

export const PAGE = 200;
export const DEFAULT_ORDER = "attributes.start_time DESC";

export function searchBody(experimentId: string, filter: string, order: string, token?: string) {
  return { experiment_ids: [experimentId], filter, max_results: PAGE, order_by: [order], page_token: token };
}
