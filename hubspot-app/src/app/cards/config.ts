// The Advocate connector's public URL. `connector app render --public-url URL` replaces the
// placeholder below when it renders this project; the template itself is never uploaded.
export const PUBLIC_URL: string = '__PUBLIC_URL__';
