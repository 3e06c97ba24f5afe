/** What a room token says: who (`sub`), as which role of the app, in which room. */
export interface RoomTokenClaims {
  sub: string;
  role: string;
  room: string;
  /** Shown to other users (devtools, audit). */
  name?: string;
  /** Default 3600, at most 86400. */
  expiresInSeconds?: number;
}

/** An HS256 room token signed with the worker's `ROOMSYNC_JWT_SECRET` (server side only). */
export function signRoomToken(claims: RoomTokenClaims, secret: string): Promise<string>;
