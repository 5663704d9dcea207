/** proxy-from-env ships no declarations: the one function this package uses. */
declare module 'proxy-from-env' {
  /** The proxy URL for `url` under HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY, or '' for none. */
  export function getProxyForUrl(url: string | URL): string;
}
