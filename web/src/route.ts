/** Hash routes (`#/records`, `#/patients/123`): the node serves one page, the app picks the screen. */
import { useEffect, useState } from 'react';

export function useRoute(): string {
  const [route, setRoute] = useState(() => location.hash.replace(/^#/, '') || '/');
  useEffect(() => {
    const onChange = () => {
      setRoute(location.hash.replace(/^#/, '') || '/');
      // Move focus to the new screen's heading for keyboard and screen-reader users.
      requestAnimationFrame(() => document.querySelector<HTMLElement>('main h1')?.focus());
    };
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export const go = (route: string) => {
  location.hash = route;
};
