/** Previous/next paging with the position in words. */
export const PAGE_SIZE = 25;

export function Pager({
  page,
  total,
  onPage,
  label,
  size = PAGE_SIZE,
}: {
  page: number;
  total: number;
  onPage: (page: number) => void;
  label: string;
  size?: number;
}) {
  const pages = Math.max(1, Math.ceil(total / size));
  if (total <= size) return null;
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" className="secondary" disabled={page === 0} onClick={() => onPage(page - 1)}>
        Previous
      </button>
      <span aria-live="polite" data-testid="page-position">
        {page * size + 1}–{Math.min(total, (page + 1) * size)} of {total} (page {page + 1} of {pages})
      </span>
      <button
        type="button"
        className="secondary"
        disabled={page >= pages - 1}
        onClick={() => onPage(page + 1)}
      >
        Next
      </button>
    </nav>
  );
}
