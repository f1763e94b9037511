// The same join without @volly/shared: the size baseline the test compares the app's bundle with.
import { Room } from 'livekit-client';

const params = new URLSearchParams(location.search);
const room = new Room();
room.connect(params.get('url') as string, params.get('token') as string).catch((err: Error) => console.error(err.message));
